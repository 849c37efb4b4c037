#!/usr/bin/env python3
"""A downstream TCP sink for benches/serve.sh (what Vector's socket source
is to domreg serve). Accepts connections on 127.0.0.1:PORT one after
another and counts lines.

  serve_sink.py PORT count N          exit when N lines arrived; print seconds
                                      from the first byte to the Nth line
  serve_sink.py PORT ids N STOP_AT    collect the "uid" of every line; after
                                      STOP_AT lines, drop the connection with
                                      unread bytes (as a killed process does),
                                      stay away 1 s, listen again; exit when N
                                      distinct uids arrived; print JSON counts
"""
import json, re, socket, sys, time

port, mode, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
stop_at = int(sys.argv[4]) if len(sys.argv) > 4 else None


def listen():
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(16)
    return s


srv = listen()
print("ready", flush=True)
buf = bytearray(1 << 20)
if mode == "count":
    lines, first = 0, None
    while lines < n:
        c, _ = srv.accept()
        while lines < n:
            k = c.recv_into(buf)
            if not k:
                break
            if first is None:
                first = time.monotonic()
            lines += buf.count(b"\n", 0, k)
        c.close()
    print(f"{time.monotonic() - first:.3f}")
    sys.exit(0)

uid = re.compile(rb'"uid":"([^"]*)"')
seen, total, per_conn, killed = set(), 0, [], False
while len(seen) < n:
    c, _ = srv.accept()
    got, rest = 0, b""
    while len(seen) < n:
        k = c.recv_into(buf)
        if not k:
            break
        data = rest + bytes(buf[:k])
        *complete, rest = data.split(b"\n")
        for line in complete:
            m = uid.search(line)
            seen.add(m.group(1) if m else line)
        got += len(complete)
        total += len(complete)
        if stop_at is not None and not killed and total >= stop_at:
            killed = True
            # Close with bytes unread: the kernel resets the connection.
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            c.close()
            srv.close()
            time.sleep(1.0)
            srv = listen()
            break
    per_conn.append(got)
    try:
        c.close()
    except OSError:
        pass
print(json.dumps({"distinct": len(seen), "lines": total, "duplicates": total - len(seen),
                  "per_connection": per_conn}))
