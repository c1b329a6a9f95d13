# SPDX-License-Identifier: Apache-2.0
"""A legit client for the perimeter benchmark: N sequential GET /health requests, each on a new
TCP connection (so the SYN path is in every sample), at most SECONDS long. Prints
"n p50_ms p99_ms fails"."""
import socket
import sys
import time

host, port, n, secs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
req = ("GET /health HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % host).encode()
lat, fails = [], 0
end = time.monotonic() + secs
for _ in range(n):
    if time.monotonic() > end:
        break
    t0 = time.perf_counter()
    try:
        with socket.create_connection((host, port), timeout=3) as s:
            s.sendall(req)
            while s.recv(4096):
                pass
        lat.append((time.perf_counter() - t0) * 1000)
    except OSError:
        fails += 1
lat.sort()
if not lat:
    print("0 0 0 %d" % fails)
else:
    print("%d %.3f %.3f %d" % (len(lat), lat[len(lat) // 2], lat[min(len(lat) - 1, int(len(lat) * 0.99))],
                              fails))
