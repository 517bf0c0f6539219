# Tiny TCP capture proxy: forwards to a server, writes each connection's client->server bytes to OUT/conn-N.bin
import socket, sys, threading, os
listen_port, target_port, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
os.makedirs(out, exist_ok=True)
n = [0]; lock = threading.Lock()
def pipe(a, b, f):
    try:
        while True:
            d = a.recv(65536)
            if not d: break
            if f: f.write(d); f.flush()
            b.sendall(d)
    except OSError: pass
    finally:
        try: b.shutdown(socket.SHUT_WR)
        except OSError: pass
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", listen_port)); s.listen(64)
while True:
    c, _ = s.accept()
    with lock:
        n[0] += 1; i = n[0]
    u = socket.create_connection(("127.0.0.1", target_port))
    f = open(f"{out}/conn-{i:04d}.bin", "wb")
    threading.Thread(target=pipe, args=(c, u, f), daemon=True).start()
    threading.Thread(target=pipe, args=(u, c, None), daemon=True).start()
