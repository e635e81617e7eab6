"""A FastAPI app serving the demo creature: POST /chat for a reply, GET /stream for live text.

Run it with any ASGI server, from the repository root:

    uvicorn fastapi_app:app --app-dir examples/aio

One creature lives as long as the app (the lifespan); every request awaits it directly.
"""

import contextlib
import json
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from kt_portal import aio

DEMO = Path(__file__).resolve().parents[1] / "demo"


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI):
    async with await aio.Agent.build(DEMO) as creature:
        app.state.creature = creature
        yield


app = FastAPI(lifespan=lifespan)


class Message(BaseModel):
    text: str


@app.post("/chat")
async def chat(message: Message) -> dict:
    result = await app.state.creature.run(message.text)
    return {"status": result.status, "reply": result.text}


@app.get("/stream")
async def stream(text: str) -> StreamingResponse:
    async def server_sent_events():
        async with app.state.creature.run_stream(text) as turn:
            async for event in turn:
                if event.type == "text_delta":
                    yield f"data: {json.dumps({'text': event.text})}\n\n"
        yield "data: [DONE]\n\n"

    return StreamingResponse(server_sent_events(), media_type="text/event-stream")
