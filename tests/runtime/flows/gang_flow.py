"""A @parallel gang that meets over TCP at `current.parallel.main_ip`: node 0 listens, the
others connect and send their index, node 0 adds them up."""

import socket
import time

from shipyard import FlowSpec, Parameter, current, parallel, step


def _connect(host: str, port: int) -> socket.socket:
    """Node 0 may not listen yet: try again for a while, as rendezvous libraries do."""
    deadline = time.monotonic() + 60
    while True:
        try:
            return socket.create_connection((host, port), timeout=5)
        except ConnectionRefusedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


class GangFlow(FlowSpec):
    #: This node fails before the rendezvous (-1: none), leaving node 0 waiting for it.
    fail_node = Parameter("fail_node", default=-1, type=int)

    @step
    def start(self):
        with socket.socket() as probe:
            probe.bind(("", 0))
            self.port = probe.getsockname()[1]
        self.next(self.meet, num_parallel=2)

    @parallel
    @step
    def meet(self):
        gang = current.parallel
        if gang.node_index == self.fail_node:
            raise RuntimeError(f"node {gang.node_index} fails")
        self.main_ip = gang.main_ip
        if gang.node_index == 0:
            with socket.create_server((gang.main_ip, self.port)) as server:
                indexes = []
                for _ in range(gang.num_nodes - 1):
                    conn, _address = server.accept()
                    with conn:
                        indexes.append(int(conn.recv(16)))
            self.heard = sorted(indexes)
        else:
            with _connect(gang.main_ip, self.port) as conn:
                conn.sendall(str(gang.node_index).encode())
            self.heard = []
        self.next(self.join)

    @step
    def join(self, inputs):
        self.heard = sorted(h for i in inputs for h in i.heard)
        self.main_ips = sorted({i.main_ip for i in inputs})
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    GangFlow()
