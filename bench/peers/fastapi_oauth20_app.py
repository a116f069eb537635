"""Peer (b) of benchmark 3: a FastAPI endpoint doing the authorization-code exchange with
fastapi-oauth20 0.0.3 (its FastAPIOAuth20 callback dependency) — the same exchange as
authsplit-server's POST /auth/token: code + PKCE verifier, client_secret_basic, one token
request to the stub endpoint.

    bench/.venv/bin/python bench/peers/fastapi_oauth20_app.py <ip:port> <token endpoint URL>

Prints `fastapi listening on http://IP:PORT` once bound (uvicorn, one process).
GET /callback?code=…&state=…&code_verifier=… → 200 {access_token, token_type, expires_in}.
"""

import socket
import sys

import uvicorn
from fastapi import Depends, FastAPI
from fastapi.responses import JSONResponse
from fastapi_oauth20 import FastAPIOAuth20
from fastapi_oauth20.oauth20 import OAuth20Base

listen = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:0"
token_endpoint = sys.argv[2]
issuer = token_endpoint.rsplit("/", 1)[0]
REDIRECT_URI = "https://app.example/callback"

oauth_client = OAuth20Base(
    "bench client",
    "a+b:c%d/e f",
    authorize_endpoint=f"{issuer}/authorize",
    access_token_endpoint=token_endpoint,
    userinfo_endpoint=f"{issuer}/userinfo",
    token_endpoint_basic_auth=True,
)
callback = FastAPIOAuth20(oauth_client, redirect_uri=REDIRECT_URI)
app = FastAPI()


@app.get("/callback")
async def oauth_callback(result: tuple = Depends(callback)):
    token, _state = result
    return JSONResponse(
        {
            "access_token": token["access_token"],
            "token_type": token["token_type"],
            "expires_in": token.get("expires_in"),
        },
        headers={"cache-control": "no-store"},
    )


host, port = listen.rsplit(":", 1)
sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.bind((host, int(port)))
sock.listen(2048)  # accept-queue ready before the line below; uvicorn serves it from run()
print(f"fastapi listening on http://{host}:{sock.getsockname()[1]}", flush=True)
config = uvicorn.Config(app, log_level="warning", access_log=False)
uvicorn.Server(config).run(sockets=[sock])
