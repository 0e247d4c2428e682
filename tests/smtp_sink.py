"""A scriptable SMTP sink for atsd's tests (Debian's python3-aiosmtpd).

usage: smtp_sink.py PORT OUTFILE [--no-pipelining] [--auth USER:PASSWORD]
                    [--starttls CERT KEY | --smtps CERT KEY]
                    [--refuse-mail] [--slow SECONDS] [--tempfail-every N]

Advertises PIPELINING (RFC 2920) like Postfix does, unless --no-pipelining.
With --auth, requires AUTH (PLAIN or LOGIN, allowed without TLS on loopback)
with exactly that user and password, and answers 535 otherwise.
With --starttls, offers STARTTLS and requires it before MAIL; with --smtps,
speaks TLS from the first byte (implicit TLS). CERT and KEY are PEM files.
With --refuse-mail, answers 550 to every MAIL and then hangs up.
With --tempfail-every N, answers 451 to the final "." of one message in N at
random (seeded, so a run can be replayed with the same seed) and keeps nothing.

Behaviour by recipient local part:
  tempfail3-*  answer 451 to the first three RCPTs of that address, then accept
  reject*      answer 550 to RCPT
  dropafterdata-*  the first time: store the message, then hang up without
               replying to the final "." (the RFC 1047 window)
  slowdata-*   the first time: store the message, then wait --slow seconds
               (default 2) before replying 250 to the final "."
  anything else is accepted
Every accepted message is appended to OUTFILE as one JSON line with the
envelope, the raw bytes (latin-1), the user logged in as, whether the session
was encrypted, whether the client pipelined (RCPT
already waiting when MAIL was read), and when it arrived (Unix seconds). Prints "READY" once listening.
"""
import asyncio
import json
import logging
import ssl
import sys
import warnings
import time
import random

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

# the tests provoke failed logins and TLS handshakes on purpose: keep the
# server's warnings and tracebacks about them out of the test output
warnings.filterwarnings("ignore")
logging.getLogger("mail.log").setLevel(logging.CRITICAL)

port, out = int(sys.argv[1]), sys.argv[2]
flags = sys.argv[3:]
pipelining = "--no-pipelining" not in flags
credentials = flags[flags.index("--auth") + 1] if "--auth" in flags else None
slow = float(flags[flags.index("--slow") + 1]) if "--slow" in flags else 2.0
tempfails = {}
tempfail_every = int(flags[flags.index("--tempfail-every") + 1]) if "--tempfail-every" in flags else 0
chance = random.Random(int(flags[flags.index("--seed") + 1]) if "--seed" in flags else 1)
# addresses whose first delivery was already played out
played = set()


def authenticator(server, session, envelope, mechanism, auth_data):
    if not isinstance(auth_data, LoginPassword):
        return AuthResult(success=False, handled=False)
    given = auth_data.login.decode() + ":" + auth_data.password.decode()
    if given == credentials:
        return AuthResult(success=True, auth_data=auth_data.login.decode())
    return AuthResult(success=False, handled=False)


class Handler:
    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        if pipelining:
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        # bytes already buffered behind MAIL: the client sent RCPT without
        # waiting for MAIL's reply
        envelope.pipelined = len(server._reader._buffer) > 0
        if "--refuse-mail" in flags:
            asyncio.get_running_loop().call_later(0.01, server.transport.close)
            return "550 5.7.1 Sender refused"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0]
        if local.startswith("tempfail3"):
            n = tempfails.get(address, 0)
            if n < 3:
                tempfails[address] = n + 1
                return "451 4.3.0 Try again later"
        if local.startswith("reject"):
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if tempfail_every and chance.randrange(tempfail_every) == 0:
            return "451 4.3.0 Try again later (injected)"
        self.store(server, session, envelope)
        rcpt = envelope.rcpt_tos[0] if envelope.rcpt_tos else ""
        local = rcpt.split("@", 1)[0]
        first = rcpt not in played
        played.add(rcpt)
        if first and local.startswith("dropafterdata"):
            # abort, not close: nothing written after this reaches the client
            server.transport.abort()
            return "250 never heard"
        if first and local.startswith("slowdata"):
            await asyncio.sleep(slow)
        return "250 Message accepted for delivery"

    def store(self, server, session, envelope):
        with open(out, "a", encoding="utf-8") as f:
            f.write(json.dumps({
                "mail_from": envelope.mail_from,
                "rcpt_tos": envelope.rcpt_tos,
                "data": envelope.original_content.decode("latin-1"),
                "pipelined": getattr(envelope, "pipelined", False),
                "auth_user": session.auth_data,
                "tls": server.transport.get_extra_info("ssl_object") is not None,
                "at": time.time(),
            }) + "\n")



def tls_context(flag):
    i = flags.index(flag)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(flags[i + 1], flags[i + 2])
    return ctx


options = {}
if credentials is not None:
    options.update(auth_required=True, auth_require_tls=False, authenticator=authenticator)
if "--starttls" in flags:
    options.update(tls_context=tls_context("--starttls"), require_starttls=True)
if "--smtps" in flags:
    options.update(ssl_context=tls_context("--smtps"))
controller = Controller(Handler(), hostname="127.0.0.1", port=port, **options)
controller.start()
print("READY", flush=True)
try:
    while True:
        time.sleep(3600)
finally:
    controller.stop()
