"""A real SMTP server (aiosmtpd) for the test stack that stores every message
in a Maildir, and can be told to misbehave, to test how Herald copes.

Behaviour is read from CONTROL (a small file next to the Maildir) on every
message, so a test changes it by writing the file:
  ok            accept (250) and store              (also: no file)
  defer         answer 451 (transient) after DATA, store nothing
  reject        answer 554 (permanent) after DATA, store nothing
  slow SECONDS  wait SECONDS before answering 250 (and store)
  hang SECONDS  wait SECONDS, then answer 451 and store nothing (a server
                that stops answering: the client times out first)

usage: /usr/bin/python3 tests/fakes/smtp_sink.py PORT MAILDIR [CONTROL]
"""
import asyncio
import mailbox
import os
import signal
import sys

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, maildir, control):
        self.box = mailbox.Maildir(maildir, create=True)
        self.control = control

    def mode(self):
        try:
            with open(self.control) as f:
                words = f.read().split()
        except OSError:
            return ("ok", 0.0)
        if not words:
            return ("ok", 0.0)
        return (words[0], float(words[1]) if len(words) > 1 else 0.0)

    async def handle_DATA(self, server, session, envelope):
        mode, arg = self.mode()
        if mode == "defer":
            return "451 4.3.0 try again later (test sink)"
        if mode == "reject":
            return "554 5.7.1 rejected (test sink)"
        if mode == "hang":
            await asyncio.sleep(arg)
            return "451 4.3.0 timed out (test sink)"
        if mode == "slow":
            await asyncio.sleep(arg)
        self.box.add(envelope.original_content or envelope.content)
        return "250 2.0.0 OK stored"


def main():
    port, maildir = int(sys.argv[1]), sys.argv[2]
    control = sys.argv[3] if len(sys.argv) > 3 else os.path.join(os.path.dirname(maildir.rstrip("/")), "smtp-control")
    controller = Controller(Sink(maildir, control), hostname="127.0.0.1", port=port)
    controller.start()
    # Wait for SIGTERM/SIGINT, then stop cleanly.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    controller.stop()


if __name__ == "__main__":
    main()
