#!/usr/bin/env python3
# A small scripted SMTP server for tests/verify_test.sh: what smtlsd's
# STARTTLS probe meets, good and bad.
#	verify_server.py PORTFILE MODE [CERTFILE KEYFILE]
# Listens on 127.0.0.1 (port $VS_PORT, or one of the kernel's choice,
# written to PORTFILE once listening), one thread a connection, until
# killed.
# Each connection is logged to PORTFILE.log ("conn N", "got LINE").
# MODE:
#	ok		220, EHLO with STARTTLS in the middle of a multi-line
#			reply, STARTTLS, TLS with CERTFILE (its chain too)
#	multiline	the same, with a multi-line greeting
#	nostarttls	EHLO without STARTTLS
#	garbage		a greeting that is no SMTP reply
#	silent		accepts, never says a word
#	tlsstall	220 to STARTTLS, then no handshake
#	escapes		a greeting of 554 with terminal escapes
#	hugeline	a greeting line of 1 MB
#	inject		the 220 to STARTTLS and more in the same packet
#	manylines	an EHLO reply of 200 lines

import os
import socket
import ssl
import sys
import threading
import time

portfile, mode = sys.argv[1], sys.argv[2]
certfile = sys.argv[3] if len(sys.argv) > 3 else None
keyfile = sys.argv[4] if len(sys.argv) > 4 else None
logf = open(portfile + ".log", "a", buffering=1)
lock = threading.Lock()


def log(msg):
    with lock:
        logf.write(msg + "\n")


def readline(f):
    line = f.readline(4096)
    log("got " + line.decode("latin-1").rstrip("\r\n"))
    return line


def serve(conn, n):
    log("conn %d" % n)
    try:
        if mode == "silent":
            time.sleep(3600)
            return
        f = conn.makefile("rb")
        if mode == "garbage":
            conn.sendall(b"hello there, this is no SMTP server\r\n")
        elif mode == "escapes":
            conn.sendall(b"554 \x1b[2J\x1b]0;owned\x07 evil \x9b31m"
                         b"\r\n")
        elif mode == "hugeline":
            conn.sendall(b"220 " + b"A" * (1024 * 1024) + b"\r\n")
        elif mode == "multiline":
            conn.sendall(b"220-mail.example.test ESMTP\r\n"
                         b"220-a greeting of three lines\r\n"
                         b"220 ready\r\n")
        else:
            conn.sendall(b"220 mail.example.test ESMTP test\r\n")
        while True:
            line = readline(f)
            if not line:
                return
            cmd = line.strip().upper()
            if cmd.startswith(b"EHLO"):
                if mode == "manylines":
                    conn.sendall(b"250-x\r\n" * 200 + b"250 end\r\n")
                elif mode == "nostarttls":
                    conn.sendall(b"250-mail.example.test\r\n"
                                 b"250-PIPELINING\r\n250 8BITMIME\r\n")
                else:
                    conn.sendall(b"250-mail.example.test Hello\r\n"
                                 b"250-PIPELINING\r\n250-STARTTLS\r\n"
                                 b"250-8BITMIME\r\n250 HELP\r\n")
            elif cmd == b"STARTTLS":
                if mode == "inject":
                    conn.sendall(b"220 go ahead\r\n250 injected\r\n")
                    continue
                conn.sendall(b"220 2.0.0 Ready to start TLS\r\n")
                if mode == "tlsstall":
                    time.sleep(3600)
                    return
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                ctx.load_cert_chain(certfile, keyfile)
                conn = ctx.wrap_socket(conn, server_side=True)
                log("tls " + conn.version())
                f = conn.makefile("rb")
            elif cmd == b"QUIT":
                conn.sendall(b"221 2.0.0 closing\r\n")
                return
            else:
                conn.sendall(b"500 5.5.1 what?\r\n")
    except (OSError, ssl.SSLError) as e:
        log("error %s" % e)
    finally:
        try:
            conn.close()
        except OSError:
            pass


def main():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", int(os.environ.get("VS_PORT", "0"))))
    s.listen(16)
    with open(portfile + ".tmp", "w") as p:
        p.write("%d\n" % s.getsockname()[1])
    os.rename(portfile + ".tmp", portfile)
    n = 0
    while True:
        conn, _ = s.accept()
        n += 1
        threading.Thread(target=serve, args=(conn, n), daemon=True).start()


main()
