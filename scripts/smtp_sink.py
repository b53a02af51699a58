#!/usr/bin/env python3
"""A real SMTP server for testing Herald's email channel (aiosmtpd).

Listens on 127.0.0.1 (port 0 = any free port), prints `READY <port>` on stdout once it
accepts connections, and appends every accepted message to a JSON-lines file:
{"mail_from", "rcpt_tos", "data", "auth_login"}.

Options:
  --port N                 port to listen on (default 0: any free port)
  --out FILE               JSON-lines file of accepted messages (required)
  --auth USER:PASSWORD     require AUTH (PLAIN/LOGIN) with these credentials
  --reject ADDR=CODE       answer RCPT TO:<ADDR> with CODE (e.g. 550, 451); repeatable
  --stall ADDR=SECONDS     wait SECONDS before answering the end of DATA for mails to ADDR
  --tls MODE               starttls (offer STARTTLS) or implicit (TLS from the first byte)
  --cert FILE --key FILE   certificate and key (PEM) for --tls

Install: pip install aiosmtpd
"""

import argparse
import asyncio
import json
import ssl
import sys
import warnings

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

REASONS = {
    "450": "4.2.1 Mailbox busy, try again later",
    "451": "4.7.1 Greylisted, please try again later",
    "452": "4.2.2 Mailbox full",
    "550": "5.1.1 No such user here",
    "552": "5.2.2 Mailbox full",
    "553": "5.1.3 Mailbox name not allowed",
    "554": "5.7.1 Rejected",
}


def pairs(values, convert):
    table = {}
    for value in values or []:
        key, _, raw = value.partition("=")
        table[key.lower()] = convert(raw)
    return table


class Sink:
    def __init__(self, out, rejects, stalls):
        self.out = out
        self.rejects = rejects
        self.stalls = stalls

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        code = self.rejects.get(address.lower())
        if code:
            return f"{code} {REASONS.get(code, 'Rejected by the test sink')}"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        stall = max((self.stalls.get(r.lower(), 0) for r in envelope.rcpt_tos), default=0)
        if stall:
            await asyncio.sleep(stall)
        login = None
        if session.auth_data is not None and isinstance(session.auth_data, LoginPassword):
            login = session.auth_data.login.decode()
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "data": envelope.content.decode("utf-8", errors="replace"),
            "auth_login": login,
        }
        with open(self.out, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
        return "250 Message accepted for delivery"


def authenticator_for(expected):
    user, _, password = expected.partition(":")

    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == user
            and auth_data.password.decode() == password
        )
        if ok:
            return AuthResult(success=True, auth_data=auth_data)
        # handled=False: aiosmtpd answers 535 itself.
        return AuthResult(success=False, handled=False)

    return authenticate


async def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--out", required=True)
    parser.add_argument("--auth")
    parser.add_argument("--reject", action="append")
    parser.add_argument("--stall", action="append")
    parser.add_argument("--tls", choices=["starttls", "implicit"])
    parser.add_argument("--cert")
    parser.add_argument("--key")
    args = parser.parse_args()

    context = None
    if args.tls:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.cert, args.key)

    handler = Sink(args.out, pairs(args.reject, str), pairs(args.stall, float))
    # Tests run on loopback without TLS; AUTH over plain is intended here.
    warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
    options = {"auth_require_tls": False}
    if args.auth:
        options.update(authenticator=authenticator_for(args.auth), auth_required=True)
    if args.tls == "starttls":
        options.update(tls_context=context)

    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="sink.test", **options),
        "127.0.0.1",
        args.port,
        ssl=context if args.tls == "implicit" else None,
    )
    port = server.sockets[0].getsockname()[1]
    print(f"READY {port}", flush=True)
    # Ends when the parent closes stdin (or kills us), so a crashed test leaves no server.
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()


if __name__ == "__main__":
    asyncio.run(main())
