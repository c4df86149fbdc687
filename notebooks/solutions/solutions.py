# The solved exercise cells: the one source of notebooks/solutions/*.ipynb.
# Each block replaces the exercise cell with that id in that notebook; build it with
#   .venv/bin/python notebooks/solutions/build.py
# (tests/notebooks checks the solution notebooks are up to date and pass with strict=True).

# %% 01_bedrock_streaming ex-stats
def stream_stats(arrivals, output_tokens):
    spread = arrivals[-1] - arrivals[0]  # 첫 도착 → 마지막 도착, 초 (first → last arrival, s)
    return {"ttft_ms": arrivals[0] * 1000,
            "tokens_per_s": output_tokens / spread if spread else None}

# %% 01_bedrock_streaming ex-slow
started = time.perf_counter()  # 요청 전에 시계 시작 (start the clock before the request)
response = client.converse_stream(modelId=settings.model_id, messages=[
    {"role": "user", "content": [{"text": "!slow-first 1.5 서울 여행 추천해줘"}]}])
slow_arrivals = [time.perf_counter() - started for event in response["stream"] if "contentBlockDelta" in event]
slow_ttft_ms = slow_arrivals[0] * 1000

# %% 02_memory ex-context
def my_context(turns_newest_first, question, *, system_prompt, budget):
    system, ask = SystemMessage(system_prompt), HumanMessage(question)
    room = budget - count_message_tokens([system, ask])  # 턴에 쓸 수 있는 토큰 (tokens left for turns)
    kept = []  # 오래된 → 최신 (oldest → newest)
    for turn in turns_newest_first:  # 최신 턴부터 (newest first)
        if turn.status == "error" or not turn.answer:
            continue  # 실패한 턴, 빈 답은 건너뜀 (skip failed or empty turns)
        pair = turn_messages(turn)
        if count_message_tokens(pair) > room:
            break
        kept = pair + kept
        room -= count_message_tokens(pair)
    return [system, *kept, ask]

# %% 02_memory ex-budget
t3 = turns_newest_first[1]  # t4는 실패한 턴 (t4 failed)
budget_only_t3 = count_message_tokens(
    [SystemMessage(settings.system_prompt), *turn_messages(t3), HumanMessage(question)])

# %% 03_dynamodb_history ex-claim
def my_claim(client, table, user, request_id):
    item = {PK: {"S": user}, SK: {"S": "R#" + request_id}}
    try:
        client.put_item(TableName=table, Item=item, ConditionExpression="attribute_not_exists(#sk)",
                        ExpressionAttributeNames={"#sk": SK})
    except client.exceptions.ConditionalCheckFailedException:
        return False  # 이미 있음 (already claimed)
    return True

# %% 03_dynamodb_history ex-pages
def my_pages(client, table, user, limit):
    request = dict(TableName=table, Limit=limit, ScanIndexForward=False,  # 최신부터 (newest first)
                   KeyConditionExpression="#pk = :user AND begins_with(#sk, :turn)",
                   ExpressionAttributeNames={"#pk": PK, "#sk": SK},
                   ExpressionAttributeValues={":user": {"S": user}, ":turn": {"S": "T#"}})
    pages = []
    while True:
        response = client.query(**request)
        pages.append([item[SK]["S"] for item in response["Items"]])
        if "LastEvaluatedKey" not in response:
            return pages
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]  # 여기부터 이어서 (continue from here)

# %% 04_chat_session ex-mini
async def mini_astream(session, user, text):
    request_id = uuid.uuid4().hex
    claim = session.history.claim(user, request_id)  # 1. 요청 표시 (claim, 03)
    context = build_context(session.history.recent(user), text,  # 2. 기억 (memory, 02)
                            system_prompt=settings.system_prompt, budget=settings.context_tokens)
    yield Start(request_id, session.model_id, claim.created_at)
    answer, status, failure = [], "completed", None
    try:
        async for chunk in session.model.astream(context):  # 3. 모델 스트림 (model stream)
            if chunk.text:
                answer.append(chunk.text)
                yield Delta(request_id, chunk.text)  # 4. 새 조각만 (new text only)
    except Exception as exc:  # 모델 실패 (the model failed)
        status, failure = "error", exc
    session.history.save(Turn(user, request_id, text, "".join(answer), status=status,  # 5. 저장 (save)
                              created_at=claim.created_at, model_id=session.model_id))
    if failure is not None:
        yield Error(request_id, "model_error", f"모델 오류 (model error): {type(failure).__name__}")
    else:
        yield End(request_id, "end_turn", Usage(), Latency())

# %% 04_chat_session ex-error
fail_events = [event async for event in mini_astream(session, mini_user, "!fail-after 3 부산 여행 추천해줘")]
failed_turn = next((turn for turn in session.history.recent(mini_user) if turn.status == "error"), None)

# %% 05_websocket_backend ex-relay
async def mini_relay(events, post, *, request_id, clock, interval=0.05):
    writer, waiting, last_sent = FrameWriter(request_id), "", None
    try:
        async for event in events:
            now = clock()
            if event.type == "delta":
                waiting += event.text
                if last_sent is None or now - last_sent >= interval:  # 첫 조각은 바로 (first at once)
                    post(writer.frame({"type": "delta", "text": waiting}))
                    waiting, last_sent = "", now
            else:  # start, end, error
                if waiting:  # 기다리던 텍스트 먼저 (waiting text first)
                    post(writer.frame({"type": "delta", "text": waiting}))
                    waiting = ""
                post(writer.frame(event.to_dict()))
    except ConnectionGone:
        return "gone"
    finally:
        await events.aclose()  # 세션이 부분 답을 interrupted로 저장 (the session stores it interrupted)
    return "completed"

# %% 05_websocket_backend ex-predict
predicted = 7  # 30 ms(바로) + 150·270·390·510·630 ms + 끝에 남은 것 (first at once, every ≥100 ms, the rest)

# %% 06_chat_panel ex-button
clear_button = widgets.Button(description="지우기 (clear)")
button_row = handmade_panel.children[1]  # 질문 상자, 보내기, 멈춤 (question box, send, stop)
clear_button.on_click(lambda _button: setattr(transcript, "children", ()))
button_row.children = (*button_row.children, clear_button)

# %% 06_chat_panel ex-interrupted
def interrupted_answers(messages):
    return [m["text"] for m in messages if m["role"] == "assistant" and m["status"] == "interrupted"]
