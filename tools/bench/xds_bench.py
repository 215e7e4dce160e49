#!/usr/bin/env python3
"""xDS benchmark: remora-control and remora on loopback with 1,000 clusters and 10,000
endpoints. Reports, for state of the world and for incremental (Delta) ADS:
  - propagation: time from renaming a changed file into remora-control's directory to the
    first connection through remora that reaches the new endpoint (p50, p99 over N changes);
  - the proxy's RSS with that configuration;
  - bytes the control plane sends for a one-endpoint change.
Usage: xds_bench.py BUILD_DIR [changes=40]"""
import os, socket, subprocess, sys, tempfile, threading, time

BUILD = sys.argv[1]
CHANGES = int(sys.argv[2]) if len(sys.argv) > 2 else 40
CLUSTERS, ENDPOINTS_PER = 1000, 10


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def backend(name):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(1024)

    def run():
        while True:
            c, _ = srv.accept()
            try:
                c.sendall(name)
            finally:
                c.close()
    threading.Thread(target=run, daemon=True).start()
    return srv.getsockname()[1]


def cla(name, ports):
    eps = ",".join("{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: %d}}}}" % p for p in ports)
    return ("'@type': type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment\n"
            "cluster_name: %s\nendpoints: [{lb_endpoints: [%s]}]\n" % (name, eps))


def cluster(name):
    return ("'@type': type.googleapis.com/envoy.config.cluster.v3.Cluster\nname: %s\ntype: EDS\nconnect_timeout: 1s\n"
            "eds_cluster_config: {eds_config: {ads: {}, resource_api_version: V3}}\n" % name)


def write(path, text):
    tmp = os.path.join(os.path.dirname(path), "." + os.path.basename(path) + ".tmp")
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)


def who(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            return s.recv(64)
    except OSError:
        return b""


def stat(port, name):
    with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
        s.sendall(b"GET /stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            d = s.recv(65536)
            if not d:
                break
            data += d
    for line in data.decode().split("\n"):
        if line.startswith(name + ": "):
            return int(line.split(": ")[1])
    return None


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])


def run(delta):
    work = tempfile.mkdtemp(prefix="remora-xds-bench-")
    cfg = os.path.join(work, "cfg")
    os.mkdir(cfg)
    a, b = backend(b"A"), backend(b"B")
    lport = free_port()
    # 1,000 clusters with 10 endpoints each (documentation addresses: never contacted).
    with open(os.path.join(cfg, "bulk.yaml"), "w") as f:
        docs = []
        for i in range(CLUSTERS):
            docs.append(cluster("svc-%d" % i))
            eps = ",".join("{endpoint: {address: {socket_address: {address: 198.51.100.%d, port_value: %d}}}}"
                           % (1 + j, 10000 + i) for j in range(ENDPOINTS_PER))
            docs.append("'@type': type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment\n"
                        "cluster_name: svc-%d\nendpoints: [{lb_endpoints: [%s]}]\n" % (i, eps))
        f.write("---\n".join(docs))
    listener = ("'@type': type.googleapis.com/envoy.config.listener.v3.Listener\nname: probe\n"
                "address: {socket_address: {address: 127.0.0.1, port_value: %d}}\n"
                "filter_chains: [{filters: [{name: envoy.filters.network.tcp_proxy, typed_config: {'@type': "
                "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy, stat_prefix: probe, "
                "cluster: probe}}]}]\n" % lport)
    write(os.path.join(cfg, "probe.yaml"), listener + "---\n" + cluster("probe") + "---\n" + cla("probe", [a]))
    with open(os.path.join(cfg, "probe-endpoints.yaml"), "w") as f:
        pass
    cp_port, cp_admin, px_admin = free_port(), free_port(), free_port()
    control = subprocess.Popen([os.path.join(BUILD, "xds/remora-control"), "--config-dir", cfg,
                                "--listen", "127.0.0.1:%d" % cp_port, "--admin-address", "127.0.0.1:%d" % cp_admin,
                                "--log-level", os.environ.get("BENCH_LOG", "warning")])
    boot = os.path.join(work, "bootstrap.yaml")
    with open(boot, "w") as f:
        f.write("""node: {id: bench}
admin: {address: {socket_address: {address: 127.0.0.1, port_value: %d}}}
dynamic_resources:
  ads_config: {api_type: %s, transport_api_version: V3, grpc_services: [{envoy_grpc: {cluster_name: xds}}]}
  cds_config: {ads: {}, resource_api_version: V3}
  lds_config: {ads: {}, resource_api_version: V3}
static_resources:
  clusters:
  - name: xds
    type: STATIC
    connect_timeout: 1s
    load_assignment: {cluster_name: xds, endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: %d}}}}]}]}
""" % (px_admin, "DELTA_GRPC" if delta else "GRPC", cp_port))
    proxy = subprocess.Popen([os.path.join(BUILD, "proxy/remora"), "--bootstrap", boot, "--concurrency", "2",
                              "--prometheus-address=", "--health-address=", "--log-level", os.environ.get("BENCH_LOG", "warning")])
    try:
        deadline = time.time() + 60
        while who(lport) != b"A":
            if time.time() > deadline:
                raise SystemExit("proxy never served the probe listener")
            time.sleep(0.05)
        time.sleep(1)
        rss = rss_kib(proxy.pid)
        samples, push_bytes = [], []
        current = b"A"
        for i in range(CHANGES):
            target, port = (b"B", b) if current == b"A" else (b"A", a)
            before = stat(cp_admin, "control_plane.xds_response_bytes")
            t0 = time.monotonic()
            write(os.path.join(cfg, "probe.yaml"), listener + "---\n" + cluster("probe") + "---\n" + cla("probe", [port]))
            while who(lport) != target:
                if time.monotonic() - t0 > 5:
                    raise SystemExit("change %d never arrived" % i)
                time.sleep(0.001)  # probe every millisecond; a busy loop would steal the CPU measured
            samples.append((time.monotonic() - t0) * 1000)
            if os.environ.get("BENCH_TRACE"):  # to match samples with the processes' logs
                wrote = time.time() - samples[-1] / 1000
                print("sample %d: wrote at %s.%03d, %.1f ms" % (i, time.strftime("%H:%M:%S", time.gmtime(wrote)),
                      int(wrote * 1000) % 1000, samples[-1]), file=sys.stderr)
            current = target
            time.sleep(0.15)  # let the ACK round trip settle before measuring bytes
            push_bytes.append(stat(cp_admin, "control_plane.xds_response_bytes") - before)
            time.sleep(0.1)
        samples.sort()
        p = lambda q: samples[min(len(samples) - 1, int(q * len(samples)))]
        push_bytes.sort()
        return {"mode": "delta" if delta else "sotw", "p50_ms": p(0.5), "p90_ms": p(0.9), "p99_ms": p(0.99),
                "max_ms": samples[-1],
                "rss_mib": rss / 1024.0, "push_bytes_median": push_bytes[len(push_bytes) // 2]}
    finally:
        proxy.terminate()
        control.terminate()
        proxy.wait()
        control.wait()


if __name__ == "__main__":
    print("xDS benchmark: %d clusters x %d endpoints, %d endpoint changes, %d cores" %
          (CLUSTERS, ENDPOINTS_PER, CHANGES, os.cpu_count()))
    for delta in (False, True):
        r = run(delta)
        print("%-5s propagation p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms | proxy RSS %.1f MiB | "
              "bytes per one-endpoint push %d" % (r["mode"], r["p50_ms"], r["p90_ms"], r["p99_ms"], r["max_ms"],
                                                  r["rss_mib"], r["push_bytes_median"]))
