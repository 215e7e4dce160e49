// Load balancers: priority load and panic, each algorithm's distribution, hash consistency,
// peak EWMA's latency feedback and host avoidance. Statistical checks use fixed seeds.
#include "proxy/upstream/load_balancer.h"

#include <catch2/catch.hpp>

#include <map>
#include <set>
#include <string>

#include "proxy/common/hash.h"

namespace remora::upstream {
namespace {

HostSharedPtr makeHost(const std::string& address, uint32_t weight = 1, uint32_t priority = 0,
                       bool degraded = false) {
  auto parsed = net::Address::parse(address);
  REQUIRE(parsed.ok());
  return std::make_shared<Host>(*parsed, weight, priority, degraded);
}

// 10.0.0.<first>:80, 10.0.0.<first + 1>:80, ...
HostVector makeHosts(int n, int first = 1, uint32_t priority = 0) {
  HostVector hosts;
  for (int i = 0; i < n; ++i) {
    hosts.push_back(makeHost("10.0.0." + std::to_string(first + i) + ":80", 1, priority));
  }
  return hosts;
}

config::ClusterConfig clusterWith(config::LbPolicy policy) {
  config::ClusterConfig c;
  c.name = "test";
  c.lb_policy = policy;
  return c;
}

std::map<const Host*, int> countPicks(LoadBalancer& lb, int picks, const LbContext& ctx = {}) {
  std::map<const Host*, int> counts;
  for (int i = 0; i < picks; ++i) {
    HostSharedPtr h = lb.chooseHost(ctx);
    REQUIRE(h != nullptr);
    ++counts[h.get()];
  }
  return counts;
}

// Deterministic 64-bit keys for the hash balancers.
uint64_t testKey(uint64_t i) {
  uint64_t z = (i + 1) * 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

const Host* pickFor(LoadBalancer& lb, uint64_t key) {
  LbContext ctx;
  ctx.hash = key;
  return lb.chooseHost(ctx).get();
}

void markUnhealthy(const HostSharedPtr& host) { host->setFlag(Host::kFailedActiveHealthCheck); }

}  // namespace

// --- xxHash64 ---

TEST_CASE("xxHash64 matches the reference implementation", "[lb]") {
  CHECK(xxHash64("", 0) == 0xEF46DB3751D8E999ULL);
  CHECK(xxHash64("a", 0) == 0xD24EC4F1A98C6E5BULL);
  CHECK(xxHash64("abc", 0) == 0x44BC2CF5AD770999ULL);
  CHECK(xxHash64("", 1) == 0xD5AFBA1336A3BE4BULL);
  CHECK(xxHash64("abc", 1) == 0xBEA9CA8199328908ULL);
  CHECK(xxHash64("10.0.0.1:80_0") == 0x75041381E7371A08ULL);

  // Every tail path (8-, 4- and 1-byte steps) and the 32-byte stripes.
  const std::string text = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!?";
  const std::pair<size_t, uint64_t> prefixes[] = {
      {0, 0xEF46DB3751D8E999ULL},  {1, 0x633457081244AFECULL},  {3, 0x1C2DCB4B9024D73DULL},
      {4, 0x4C33072B45647DCBULL},  {7, 0x97EE4FE4A0FF4DFAULL},  {8, 0xE4BA22A49AD89D3FULL},
      {9, 0x43ECC9248BC07D20ULL},  {15, 0x4BB51A30968E6A4DULL}, {16, 0x5C5B90C34E376D0BULL},
      {31, 0x80ADFC1D42020F39ULL}, {32, 0xBF7C9DBE16B5C6E2ULL}, {33, 0xE97423E605E2F3B4ULL},
      {40, 0x1B3CE041C106B50BULL}, {63, 0xAA4DCAD69FAC0EB3ULL}, {64, 0xC02A83E75F3ED6EDULL},
  };
  for (const auto& [length, expected] : prefixes) {
    INFO("length " << length);
    CHECK(xxHash64(std::string_view(text).substr(0, length)) == expected);
  }

  std::string bytes;
  for (int r = 0; r < 2; ++r) {
    for (int i = 0; i < 256; ++i) bytes.push_back(static_cast<char>(i));
  }
  CHECK(xxHash64(bytes, 0x9E3779B185EBCA87ULL) == 0x0EFB354BFFB6B066ULL);
}

// --- Priority load ---

TEST_CASE("priority load follows Envoy's overprovisioned health", "[lb]") {
  SECTION("half of P0 healthy takes 70% with factor 140") {
    PriorityLoad load = computePriorityLoad({{4, 2, 0}, {4, 4, 0}}, 140, 50);
    CHECK(load.healthy == std::vector<uint32_t>{70, 30});
    CHECK(load.degraded == std::vector<uint32_t>{0, 0});
    CHECK(load.panic == std::vector<bool>{false, false});
  }
  SECTION("72% healthy is still all of the load, 71% is 99%") {
    CHECK(computePriorityLoad({{100, 72, 0}, {10, 10, 0}}, 140, 50).healthy ==
          std::vector<uint32_t>{100, 0});
    CHECK(computePriorityLoad({{100, 71, 0}, {10, 10, 0}}, 140, 50).healthy ==
          std::vector<uint32_t>{99, 1});
  }
  SECTION("below 100 in total the load is normalised, rounding to the first level") {
    // 35 + 35 + 28 = 98: 35.7 / 35.7 / 28.6, truncated, 2 left over go to P0.
    PriorityLoad load = computePriorityLoad({{100, 25, 0}, {100, 25, 0}, {100, 20, 0}}, 140, 0);
    CHECK(load.healthy == std::vector<uint32_t>{37, 35, 28});
    CHECK(load.panic == std::vector<bool>{false, false, false});
  }
  SECTION("a level under the panic threshold panics once the total is below 100") {
    PriorityLoad load = computePriorityLoad({{100, 5, 0}, {100, 65, 0}}, 140, 50);
    CHECK(load.healthy == std::vector<uint32_t>{8, 92});
    CHECK(load.panic == std::vector<bool>{true, false});
  }
  SECTION("every level in panic: the load follows host counts") {
    PriorityLoad load = computePriorityLoad({{3, 0, 0}, {1, 0, 0}}, 140, 50);
    CHECK(load.healthy == std::vector<uint32_t>{75, 25});
    CHECK(load.panic == std::vector<bool>{true, true});
  }
  SECTION("panic threshold 0 and nothing usable: no load anywhere") {
    PriorityLoad load = computePriorityLoad({{3, 0, 0}, {1, 0, 0}}, 140, 0);
    CHECK(load.healthy == std::vector<uint32_t>{0, 0});
    CHECK(load.degraded == std::vector<uint32_t>{0, 0});
    CHECK(load.panic == std::vector<bool>{false, false});
  }
  SECTION("degraded capacity takes only what healthy capacity leaves") {
    CHECK(computePriorityLoad({{4, 3, 1}}, 140, 50).degraded == std::vector<uint32_t>{0});
    PriorityLoad load = computePriorityLoad({{4, 2, 2}}, 140, 50);
    CHECK(load.healthy == std::vector<uint32_t>{70});
    CHECK(load.degraded == std::vector<uint32_t>{30});
    // P0's healthy hosts first, then P1's, and only then P1's degraded hosts.
    load = computePriorityLoad({{4, 1, 0}, {4, 1, 3}}, 140, 50);
    CHECK(load.healthy == std::vector<uint32_t>{35, 35});
    CHECK(load.degraded == std::vector<uint32_t>{0, 30});
  }
}

TEST_CASE("priority 0 with 2 of 4 healthy gets 70% of picks, priority 1 the rest", "[lb]") {
  HostVector hosts = makeHosts(4, 1, 0);
  for (const auto& h : makeHosts(4, 11, 1)) hosts.push_back(h);
  markUnhealthy(hosts[0]);
  markUnhealthy(hosts[1]);
  auto lb = createLoadBalancer(clusterWith(config::LbPolicy::RoundRobin), hosts, 7);
  auto counts = countPicks(*lb, 20000);
  CHECK(counts.count(hosts[0].get()) == 0);
  CHECK(counts.count(hosts[1].get()) == 0);
  const int p0 = counts[hosts[2].get()] + counts[hosts[3].get()];
  CHECK(p0 == Approx(14000).margin(400));
  for (size_t i = 4; i < 8; ++i) CHECK(counts[hosts[i].get()] == Approx(1500).margin(200));
}

TEST_CASE("panic: with 1 of 10 hosts healthy picks spread over all hosts", "[lb]") {
  HostVector hosts = makeHosts(10);
  for (size_t i = 1; i < hosts.size(); ++i) markUnhealthy(hosts[i]);

  config::ClusterConfig config = clusterWith(config::LbPolicy::Random);
  auto lb = createLoadBalancer(config, hosts, 3);
  auto counts = countPicks(*lb, 20000);
  REQUIRE(counts.size() == 10);
  for (const auto& [host, n] : counts) CHECK(n == Approx(2000).margin(300));

  SECTION("threshold 0 disables panic: only the healthy host") {
    config.healthy_panic_threshold = 0;
    lb = createLoadBalancer(config, hosts, 3);
    counts = countPicks(*lb, 1000);
    CHECK(counts.size() == 1);
    CHECK(counts[hosts[0].get()] == 1000);
  }
  SECTION("threshold 0 and no usable host: no host, as Envoy's no healthy upstream") {
    config.healthy_panic_threshold = 0;
    markUnhealthy(hosts[0]);
    lb = createLoadBalancer(config, hosts, 3);
    CHECK(lb->chooseHost({}) == nullptr);
  }
}

TEST_CASE("degraded hosts are used only when healthy hosts are not enough", "[lb]") {
  HostVector hosts = makeHosts(3);
  hosts.push_back(makeHost("10.0.0.9:80", 1, 0, /*degraded=*/true));
  auto lb = createLoadBalancer(clusterWith(config::LbPolicy::RoundRobin), hosts, 1);
  auto counts = countPicks(*lb, 3000);
  CHECK(counts.count(hosts[3].get()) == 0);

  // 2 healthy of 4: healthy takes 70%, the two degraded hosts 30%.
  hosts[2]->setDegradedEds(true);
  lb = createLoadBalancer(clusterWith(config::LbPolicy::RoundRobin), hosts, 1);
  counts = countPicks(*lb, 20000);
  CHECK(counts[hosts[0].get()] + counts[hosts[1].get()] == Approx(14000).margin(400));
  CHECK(counts[hosts[2].get()] + counts[hosts[3].get()] == Approx(6000).margin(400));
}

TEST_CASE("no host: nullptr, and weight 0 hosts are never picked", "[lb]") {
  for (auto policy :
       {config::LbPolicy::RoundRobin, config::LbPolicy::LeastRequest, config::LbPolicy::Random,
        config::LbPolicy::RingHash, config::LbPolicy::Maglev, config::LbPolicy::PeakEwma}) {
    INFO("policy " << static_cast<int>(policy));
    CHECK(createLoadBalancer(clusterWith(policy), {}, 1)->chooseHost({}) == nullptr);
    HostVector hosts = makeHosts(2);
    hosts.push_back(makeHost("10.0.0.7:80", 0));
    auto lb = createLoadBalancer(clusterWith(policy), hosts, 1);
    CHECK(countPicks(*lb, 500).count(hosts[2].get()) == 0);
  }
}

// --- Round robin ---

TEST_CASE("round robin rotates exactly with equal weights, from a per-seed start", "[lb]") {
  HostVector hosts = makeHosts(3);
  std::set<const Host*> starts;
  for (uint64_t seed = 0; seed < 8; ++seed) {
    auto lb = createLoadBalancer(clusterWith(config::LbPolicy::RoundRobin), hosts, seed);
    std::vector<const Host*> picks;
    for (int i = 0; i < 30; ++i) picks.push_back(lb->chooseHost({}).get());
    CHECK(std::set<const Host*>(picks.begin(), picks.begin() + 3).size() == 3);
    for (int i = 3; i < 30; ++i) CHECK(picks[i] == picks[i - 3]);
    starts.insert(picks[0]);
  }
  CHECK(starts.size() > 1);
}

TEST_CASE("weighted round robin keeps 1:2:3 and interleaves", "[lb]") {
  HostVector hosts = {makeHost("10.0.0.1:80", 1), makeHost("10.0.0.2:80", 2),
                      makeHost("10.0.0.3:80", 3)};
  auto lb = createLoadBalancer(clusterWith(config::LbPolicy::RoundRobin), hosts, 5);
  std::map<const Host*, int> counts;
  const Host* previous = nullptr;
  int run = 0, longest_run = 0;
  for (int i = 0; i < 6000; ++i) {
    const Host* h = lb->chooseHost({}).get();
    ++counts[h];
    run = h == previous ? run + 1 : 1;
    longest_run = std::max(longest_run, run);
    previous = h;
  }
  CHECK(counts[hosts[0].get()] == Approx(1000).margin(120));
  CHECK(counts[hosts[1].get()] == Approx(2000).margin(120));
  CHECK(counts[hosts[2].get()] == Approx(3000).margin(120));
  CHECK(longest_run <= 2);  // earliest deadline first: no runs of the heavy host
}

// --- Least request ---

TEST_CASE("least request with 2 choices: a busy host of 3 wins only when drawn twice", "[lb]") {
  HostVector hosts = makeHosts(3);
  hosts[0]->rq_active = 10;
  config::ClusterConfig config = clusterWith(config::LbPolicy::LeastRequest);
  auto lb = createLoadBalancer(config, hosts, 11);
  auto counts = countPicks(*lb, 9000);
  // P(busy) = (1/3)^2; the other two share the rest.
  CHECK(counts[hosts[0].get()] == Approx(1000).margin(150));
  CHECK(counts[hosts[1].get()] == Approx(4000).margin(250));
  CHECK(counts[hosts[2].get()] == Approx(4000).margin(250));

  config.least_request.choice_count = 3;
  lb = createLoadBalancer(config, hosts, 11);
  counts = countPicks(*lb, 27000);
  CHECK(counts[hosts[0].get()] == Approx(1000).margin(150));  // (1/3)^3

  // rq_active is read at pick time, without a rebuild.
  hosts[0]->rq_active = 0;
  hosts[1]->rq_active = 10;
  counts = countPicks(*lb, 27000);
  CHECK(counts[hosts[1].get()] == Approx(1000).margin(150));
}

TEST_CASE("least request with unequal weights divides weight by active requests", "[lb]") {
  HostVector hosts = {makeHost("10.0.0.1:80", 1), makeHost("10.0.0.2:80", 1),
                      makeHost("10.0.0.3:80", 2)};
  hosts[2]->rq_active = 3;
  config::ClusterConfig config = clusterWith(config::LbPolicy::LeastRequest);
  // Effective weights 1, 1, 2/4: shares 40%, 40%, 20%.
  auto lb = createLoadBalancer(config, hosts, 2);
  auto counts = countPicks(*lb, 10000);
  CHECK(counts[hosts[0].get()] == Approx(4000).margin(200));
  CHECK(counts[hosts[1].get()] == Approx(4000).margin(200));
  CHECK(counts[hosts[2].get()] == Approx(2000).margin(200));

  // Bias 0: plain weights.
  config.least_request.active_request_bias = 0.0;
  lb = createLoadBalancer(config, hosts, 2);
  counts = countPicks(*lb, 10000);
  CHECK(counts[hosts[2].get()] == Approx(5000).margin(200));
}

// --- Random ---

TEST_CASE("random is uniform and ignores weights, as Envoy's", "[lb]") {
  HostVector hosts = {makeHost("10.0.0.1:80", 1), makeHost("10.0.0.2:80", 5),
                      makeHost("10.0.0.3:80", 1), makeHost("10.0.0.4:80", 1)};
  auto lb = createLoadBalancer(clusterWith(config::LbPolicy::Random), hosts, 9);
  auto counts = countPicks(*lb, 40000);
  REQUIRE(counts.size() == 4);
  for (const auto& [host, n] : counts) CHECK(n == Approx(10000).margin(500));
}

// --- Ring hash ---

TEST_CASE("ring hash: Envoy's ring of xxHash64(\"<address>_<i>\"), first entry at or after the key",
          "[lb]") {
  // minimum_ring_size 3 and 3 hosts: one entry each, xxHash64("10.0.0.N:80_0"):
  // .2 0x7079D8E1823E007F < .3 0x74DA18DB9F57CC7E < .1 0x75041381E7371A08.
  HostVector hosts = makeHosts(3);
  config::ClusterConfig config = clusterWith(config::LbPolicy::RingHash);
  config.ring_hash.minimum_ring_size = 3;
  auto lb = createLoadBalancer(config, hosts, 1);
  CHECK(pickFor(*lb, 0) == hosts[1].get());
  CHECK(pickFor(*lb, 0x7079D8E1823E007FULL) == hosts[1].get());
  CHECK(pickFor(*lb, 0x7079D8E1823E0080ULL) == hosts[2].get());
  CHECK(pickFor(*lb, 0x74DA18DB9F57CC7FULL) == hosts[0].get());
  CHECK(pickFor(*lb, 0x75041381E7371A08ULL) == hosts[0].get());
  CHECK(pickFor(*lb, 0x75041381E7371A09ULL) == hosts[1].get());  // wraps
}

TEST_CASE("ring hash: keys stay put, and a 4th host takes about a quarter of them", "[lb]") {
  HostVector three = makeHosts(3);
  HostVector four = three;
  four.push_back(makeHost("10.0.0.4:80"));
  config::ClusterConfig config = clusterWith(config::LbPolicy::RingHash);
  auto before = createLoadBalancer(config, three, 1);
  auto other_worker = createLoadBalancer(config, three, 2);
  auto after = createLoadBalancer(config, four, 3);

  const int keys = 10000;
  int to_new_host = 0;
  int between_old_hosts = 0;
  std::map<const Host*, int> counts;
  for (int i = 0; i < keys; ++i) {
    const Host* h = pickFor(*before, testKey(i));
    ++counts[h];
    CHECK(pickFor(*before, testKey(i)) == h);
    CHECK(pickFor(*other_worker, testKey(i)) == h);
    const Host* h4 = pickFor(*after, testKey(i));
    if (h4 == four[3].get()) {
      ++to_new_host;
    } else if (h4 != h) {
      ++between_old_hosts;
    }
  }
  for (const auto& [host, n] : counts) CHECK(n == Approx(keys / 3.0).margin(0.05 * keys));
  CHECK(to_new_host >= 0.18 * keys);
  CHECK(to_new_host <= 0.32 * keys);
  // Envoy's ring keeps about minimum_ring_size entries in all, so each old host goes from 342
  // entries to 256, and keys on the dropped ones move to the next entry: about 10% of keys
  // change between old hosts (an Envoy sidecar holding the same hosts moves the same ones).
  CHECK(between_old_hosts <= 0.15 * keys);

  SECTION("when the old hosts keep their entries, only the new host's arcs move") {
    config.ring_hash.minimum_ring_size = 3;  // one entry per host with 3 hosts and with 4
    before = createLoadBalancer(config, three, 1);
    after = createLoadBalancer(config, four, 1);
    int moved = 0;
    for (int i = 0; i < keys; ++i) {
      const Host* h = pickFor(*before, testKey(i));
      const Host* h4 = pickFor(*after, testKey(i));
      if (h4 != h) {
        ++moved;
        CHECK(h4 == four[3].get());
      }
    }
    CHECK(moved > 0);
  }
}

TEST_CASE("ring hash: weights scale a host's share of the ring", "[lb]") {
  HostVector hosts = {makeHost("10.0.0.1:80", 1), makeHost("10.0.0.2:80", 3)};
  auto lb = createLoadBalancer(clusterWith(config::LbPolicy::RingHash), hosts, 1);
  int heavy = 0;
  for (int i = 0; i < 10000; ++i) heavy += pickFor(*lb, testKey(i)) == hosts[1].get();
  CHECK(heavy == Approx(7500).margin(400));
}

// --- Maglev ---

TEST_CASE("maglev: the paper's table from xxHash64 offsets and skips", "[lb]") {
  // M = 7; 10.0.0.1:80 has offset 6, skip 5; 10.0.0.2:80 offset 4, skip 4. Taking turns:
  // .1 -> 6, .2 -> 4, .1 -> 4 taken, 2; .2 -> 1; .1 -> 0; .2 -> 5; .1 -> 5 taken, 3.
  HostVector hosts = makeHosts(2);
  config::ClusterConfig config = clusterWith(config::LbPolicy::Maglev);
  config.maglev.table_size = 7;
  auto lb = createLoadBalancer(config, hosts, 1);
  const int expected[7] = {0, 1, 0, 0, 1, 1, 0};
  for (uint64_t key = 0; key < 7; ++key) {
    INFO("key " << key);
    CHECK(pickFor(*lb, key) == hosts[expected[key]].get());
    CHECK(pickFor(*lb, key + 7 * 1000003) == hosts[expected[key]].get());
  }
}

TEST_CASE("maglev: keys stay put, and a 4th host takes about a quarter of them", "[lb]") {
  HostVector three = makeHosts(3);
  HostVector four = three;
  four.push_back(makeHost("10.0.0.4:80"));
  config::ClusterConfig config = clusterWith(config::LbPolicy::Maglev);
  auto before = createLoadBalancer(config, three, 1);
  auto other_worker = createLoadBalancer(config, three, 2);
  auto after = createLoadBalancer(config, four, 3);

  const int keys = 10000;
  int moved = 0;
  int moved_elsewhere = 0;
  std::map<const Host*, int> counts;
  for (int i = 0; i < keys; ++i) {
    const Host* h = pickFor(*before, testKey(i));
    ++counts[h];
    CHECK(pickFor(*before, testKey(i)) == h);
    CHECK(pickFor(*other_worker, testKey(i)) == h);
    const Host* h4 = pickFor(*after, testKey(i));
    if (h4 != h) {
      ++moved;
      if (h4 != four[3].get()) ++moved_elsewhere;
    }
  }
  CHECK(moved >= 0.18 * keys);
  CHECK(moved <= 0.32 * keys);
  // Maglev trades a little disruption for balance: almost every moved key went to the new host.
  CHECK(moved_elsewhere <= 0.03 * keys);
  for (const auto& [host, n] : counts) CHECK(n == Approx(keys / 3.0).margin(0.03 * keys));
}

TEST_CASE("maglev: weights scale a host's share of the table", "[lb]") {
  HostVector hosts = {makeHost("10.0.0.1:80", 1), makeHost("10.0.0.2:80", 3)};
  auto lb = createLoadBalancer(clusterWith(config::LbPolicy::Maglev), hosts, 1);
  int heavy = 0;
  for (int i = 0; i < 10000; ++i) heavy += pickFor(*lb, testKey(i)) == hosts[1].get();
  CHECK(heavy == Approx(7500).margin(300));
}

// --- Peak EWMA ---

TEST_CASE("peak EWMA prefers the fast host and reacts to load and latency", "[lb]") {
  HostVector hosts = makeHosts(2);
  const Host& fast = *hosts[0];
  const Host& slow = *hosts[1];
  uint64_t now = 1'000'000;
  config::ClusterConfig config = clusterWith(config::LbPolicy::PeakEwma);  // decay 10 s
  auto lb = createLoadBalancer(config, hosts, 4, [&now] { return now; });

  lb->onRequestStart(fast);
  lb->onRequestEnd(fast, 1'000, true);
  lb->onRequestStart(slow);
  lb->onRequestEnd(slow, 50'000, true);
  auto counts = countPicks(*lb, 200);
  CHECK(counts[&fast] == 200);

  SECTION("requests in flight raise the cost: 60 pending at 1 ms cost more than 50 ms idle") {
    for (int i = 0; i < 60; ++i) lb->onRequestStart(fast);
    CHECK(countPicks(*lb, 200)[&slow] == 200);
    for (int i = 0; i < 60; ++i) lb->onRequestEnd(fast, 1'000, true);
    CHECK(countPicks(*lb, 200)[&fast] == 200);
  }
  SECTION("a peak counts at once") {
    lb->onRequestEnd(fast, 80'000, true);
    CHECK(countPicks(*lb, 200)[&slow] == 200);
  }
  SECTION("a lower sample pulls the average with weight 1 - exp(-elapsed / decay)") {
    lb->onRequestEnd(fast, 10'000, true);  // a peak: fast is 10 ms at once
    lb->onRequestEnd(slow, 4'000, true);   // no time elapsed: w = 1, slow stays 50 ms
    CHECK(countPicks(*lb, 200)[&fast] == 200);
    now += 1'000'000;  // 0.1 decay: slow 50 * 0.905 + 4 * 0.095 = 45.6 ms
    lb->onRequestEnd(slow, 4'000, true);
    lb->onRequestEnd(fast, 10'000, true);  // fast stays 10 ms
    CHECK(countPicks(*lb, 200)[&fast] == 200);
    now += 30'000'000;  // 3 decays: slow 45.6 * 0.05 + 4 * 0.95 = 6.1 ms
    lb->onRequestEnd(slow, 4'000, true);
    lb->onRequestEnd(fast, 10'000, true);
    CHECK(countPicks(*lb, 200)[&slow] == 200);
  }
  SECTION("a failure does not make a host look faster") {
    now += 100'000'000;
    for (int i = 0; i < 10; ++i) {
      now += 10'000'000;
      lb->onRequestEnd(slow, 1, false);
      lb->onRequestEnd(fast, 1'000, true);
    }
    CHECK(countPicks(*lb, 200)[&fast] == 200);
    // The same fast answers as successes do pull the slow host's average down.
    for (int i = 0; i < 10; ++i) {
      now += 10'000'000;
      lb->onRequestEnd(slow, 1, true);
      lb->onRequestEnd(fast, 1'000, true);
    }
    CHECK(countPicks(*lb, 200)[&slow] == 200);
  }
  SECTION("without samples a host's estimate decays, so it is tried again") {
    now += 100'000'000;  // slow: 50 ms * exp(-10) = 2.3 us
    lb->onRequestEnd(fast, 1'000, true);
    CHECK(lb->chooseHost({}).get() == &slow);
  }
}

TEST_CASE("peak EWMA: a host without samples costs default_rtt", "[lb]") {
  HostVector hosts = makeHosts(2);
  uint64_t now = 0;
  config::ClusterConfig config = clusterWith(config::LbPolicy::PeakEwma);  // default_rtt 30 ms
  auto lb = createLoadBalancer(config, hosts, 4, [&now] { return now; });
  lb->onRequestEnd(*hosts[0], 20'000, true);
  CHECK(countPicks(*lb, 100)[hosts[0].get()] == 100);
  lb->onRequestEnd(*hosts[0], 40'000, true);
  CHECK(countPicks(*lb, 100)[hosts[1].get()] == 100);
}

TEST_CASE("peak EWMA: power of two choices among many hosts", "[lb]") {
  HostVector hosts = makeHosts(4);
  uint64_t now = 0;
  auto lb =
      createLoadBalancer(clusterWith(config::LbPolicy::PeakEwma), hosts, 4, [&now] { return now; });
  for (int i = 0; i < 4; ++i) lb->onRequestEnd(*hosts[i], 1'000 * (i + 1), true);
  // Host i wins unless the other draw is cheaper: P = 2 * (3 - i) / 12 of distinct pairs.
  auto counts = countPicks(*lb, 12000);
  CHECK(counts[hosts[0].get()] == Approx(6000).margin(300));
  CHECK(counts[hosts[1].get()] == Approx(4000).margin(300));
  CHECK(counts[hosts[2].get()] == Approx(2000).margin(300));
  CHECK(counts.count(hosts[3].get()) == 0);
}

// --- Avoiding hosts (previous_hosts retry predicate) ---

TEST_CASE("avoid: re-picks skip avoided hosts while attempts last", "[lb]") {
  HostVector hosts = makeHosts(3);
  std::vector<const Host*> avoid = {hosts[0].get()};
  LbContext ctx;
  ctx.avoid = &avoid;

  for (auto policy : {config::LbPolicy::RoundRobin, config::LbPolicy::LeastRequest,
                      config::LbPolicy::Random, config::LbPolicy::PeakEwma}) {
    INFO("policy " << static_cast<int>(policy));
    auto lb = createLoadBalancer(clusterWith(policy), hosts, 6);
    ctx.selection_attempts = 1;
    CHECK(countPicks(*lb, 300, ctx).count(hosts[0].get()) == 1);
    ctx.selection_attempts = 10;
    CHECK(countPicks(*lb, 300, ctx).count(hosts[0].get()) == 0);
  }

  SECTION("hash balancers walk on from the key's host, the same way each time") {
    for (auto policy : {config::LbPolicy::RingHash, config::LbPolicy::Maglev}) {
      INFO("policy " << static_cast<int>(policy));
      auto lb = createLoadBalancer(clusterWith(policy), hosts, 6);
      for (int i = 0; i < 200; ++i) {
        LbContext hashed;
        hashed.hash = testKey(i);
        const Host* first = lb->chooseHost(hashed).get();
        std::vector<const Host*> previous = {first};
        hashed.avoid = &previous;
        hashed.selection_attempts = 1;
        CHECK(lb->chooseHost(hashed).get() == first);
        hashed.selection_attempts = 32;
        const Host* second = lb->chooseHost(hashed).get();
        CHECK(second != first);
        CHECK(lb->chooseHost(hashed).get() == second);
        // Both avoided: a third host.
        previous.push_back(second);
        const Host* third = lb->chooseHost(hashed).get();
        CHECK(third != first);
        CHECK(third != second);
      }
    }
  }
  SECTION("every host avoided: the last pick, not nothing") {
    std::vector<const Host*> all = {hosts[0].get(), hosts[1].get(), hosts[2].get()};
    LbContext everything;
    everything.avoid = &all;
    everything.selection_attempts = 5;
    auto lb = createLoadBalancer(clusterWith(config::LbPolicy::RoundRobin), hosts, 6);
    CHECK(lb->chooseHost(everything) != nullptr);
  }
}

}  // namespace remora::upstream
