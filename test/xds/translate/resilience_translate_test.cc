// Translation of Envoy's resilience configuration: load balancing policies, circuit breakers,
// outlier detection, active health checks, EDS priorities and health, route retry and hash
// policies. What remora models arrives in the model with Envoy's defaults; the rest is NACKed
// naming the field path.
#include <catch2/catch.hpp>

#include "proxy/common/strings.h"
#include "test/xds/translate/translate_test_util.h"
#include "xds/translate/http.h"
#include "xds/translate/translate.h"

namespace remora::xds {
namespace {

using config::LbPolicy;
using config::RetryPolicyConfig;
using envoy::config::cluster::v3::Cluster;
using envoy::config::endpoint::v3::ClusterLoadAssignment;
using envoy::config::route::v3::RouteConfiguration;

using testutil::errorOf;
using testutil::parse;

using std::chrono::milliseconds;
using std::chrono::seconds;

const char* kEds = "name: c\ntype: EDS\neds_cluster_config: {eds_config: {ads: {}}}\n";

absl::StatusOr<config::ClusterConfig> eds(const std::string& extra,
                                          TranslateNotes* notes = nullptr) {
  return translateCluster(parse<Cluster>(cat(kEds, extra)), notes);
}

config::ClusterConfig edsOk(const std::string& extra, TranslateNotes* notes = nullptr) {
  auto c = eds(extra, notes);
  INFO(extra);
  INFO(c.status().ToString());
  REQUIRE(c.ok());
  return *c;
}

struct Bad {
  std::string yaml;
  std::string error;
};

// Each case is NACKed with exactly this message.
void checkClusterNacks(const std::vector<Bad>& cases, const std::string& prefix = kEds) {
  for (const auto& c : cases) {
    INFO(c.yaml);
    auto r = translateCluster(parse<Cluster>(cat(prefix, c.yaml)), nullptr);
    REQUIRE_FALSE(r.ok());
    CHECK(errorOf(r.status()) == c.error);
  }
}

// A load_balancing_policy with one policy of this typed_config (YAML flow mapping).
std::string lbp(const std::string& typed_config) {
  return cat("load_balancing_policy:\n  policies:\n  - typed_extension_config:\n      name: p\n",
             "      typed_config: ", typed_config, "\n");
}

const char* kLbpPath = "cluster 'c'.load_balancing_policy.policies[0].typed_extension_config";

std::string peakEwma(const std::string& value) {
  return cat(
      "{'@type': type.googleapis.com/xds.type.v3.TypedStruct, type_url: "
      "type.googleapis.com/remora.load_balancing_policies.peak_ewma, value: ",
      value, "}");
}

// --- Load balancing ---

TEST_CASE("cluster resilience defaults are Envoy's when nothing is set", "[xds][resilience]") {
  auto c = edsOk("");
  CHECK(c.lb_policy == LbPolicy::RoundRobin);
  CHECK(c.least_request == config::LeastRequestConfig{2, 1.0});
  CHECK(c.ring_hash == config::RingHashConfig{1024, 8388608});
  CHECK(c.maglev.table_size == 65537);
  CHECK(c.healthy_panic_threshold == 50);
  CHECK(c.overprovisioning_factor == 140);
  for (const auto* t : {&c.circuit_breakers.default_priority, &c.circuit_breakers.high_priority}) {
    CHECK(t->max_connections == 1024);
    CHECK(t->max_pending_requests == 1024);
    CHECK(t->max_requests == 1024);
    CHECK(t->max_retries == 3);
    CHECK_FALSE(t->retry_budget_percent);
    CHECK_FALSE(t->track_remaining);
  }
  CHECK_FALSE(c.outlier_detection);
  CHECK(c.health_checks.empty());
}

TEST_CASE("lb_policy and its lb config arrive in the model", "[xds][resilience]") {
  TranslateNotes notes;
  auto lr = edsOk(
      "lb_policy: LEAST_REQUEST\nleast_request_lb_config: {choice_count: 3, active_request_bias: "
      "{default_value: 0.5, runtime_key: lb.bias}}",
      &notes);
  CHECK(lr.lb_policy == LbPolicy::LeastRequest);
  CHECK(lr.least_request == config::LeastRequestConfig{3, 0.5});
  // No runtime: the key is never set, so the default value applies; the key is noted.
  CHECK(notes.ignored ==
        std::vector<std::string>{
            "cluster 'c'.least_request_lb_config.active_request_bias.runtime_key"});

  CHECK(edsOk("lb_policy: LEAST_REQUEST").least_request == config::LeastRequestConfig{});
  CHECK(edsOk("lb_policy: RANDOM").lb_policy == LbPolicy::Random);
  CHECK(edsOk("lb_policy: ROUND_ROBIN\nround_robin_lb_config: {}").lb_policy ==
        LbPolicy::RoundRobin);

  auto rh = edsOk(
      "lb_policy: RING_HASH\nring_hash_lb_config: {minimum_ring_size: 2048, maximum_ring_size: "
      "4096, hash_function: XX_HASH}");
  CHECK(rh.lb_policy == LbPolicy::RingHash);
  CHECK(rh.ring_hash == config::RingHashConfig{2048, 4096});
  CHECK(
      edsOk("lb_policy: RING_HASH\nring_hash_lb_config: {maximum_ring_size: 8388608}").ring_hash ==
      config::RingHashConfig{1024, 8388608});

  auto mg = edsOk("lb_policy: MAGLEV\nmaglev_lb_config: {table_size: 5000011}");
  CHECK(mg.lb_policy == LbPolicy::Maglev);
  CHECK(mg.maglev.table_size == 5000011);
  CHECK(edsOk("lb_policy: MAGLEV").maglev.table_size == 65537);
}

TEST_CASE("an lb config for another policy is ignored, as Envoy ignores it, and noted",
          "[xds][resilience]") {
  TranslateNotes notes;
  auto c = edsOk("lb_policy: LEAST_REQUEST\nring_hash_lb_config: {minimum_ring_size: 7}", &notes);
  CHECK(c.lb_policy == LbPolicy::LeastRequest);
  CHECK(c.ring_hash == config::RingHashConfig{});
  CHECK(notes.ignored == std::vector<std::string>{"cluster 'c'.ring_hash_lb_config"});
}

TEST_CASE("ORIGINAL_DST clusters use the original destination and take no balancing policy",
          "[xds][resilience]") {
  const std::string od = "name: o\ntype: ORIGINAL_DST\n";
  for (const char* extra : {"lb_policy: CLUSTER_PROVIDED", "", "original_dst_lb_config: {}"}) {
    INFO(extra);
    auto c = translateCluster(parse<Cluster>(cat(od, extra)), nullptr);
    INFO(c.status().ToString());
    REQUIRE(c.ok());
    CHECK(c->lb_policy == LbPolicy::ClusterProvided);
  }
  // Another policy's config is ignored, as for any cluster.
  TranslateNotes notes;
  auto ignored = translateCluster(parse<Cluster>(cat(od, "ring_hash_lb_config: {}")), &notes);
  REQUIRE(ignored.ok());
  CHECK(ignored->lb_policy == LbPolicy::ClusterProvided);
  CHECK(notes.ignored == std::vector<std::string>{"cluster 'o'.ring_hash_lb_config"});
  checkClusterNacks(
      {
          {"lb_policy: LEAST_REQUEST",
           "cluster 'o'.lb_policy: LEAST_REQUEST is not valid for an ORIGINAL_DST cluster "
           "(CLUSTER_PROVIDED is)"},
          {"original_dst_lb_config: {use_http_header: true}",
           "cluster 'o'.original_dst_lb_config.use_http_header: not supported by remora"},
          {lbp("{'@type': "
               "type.googleapis.com/envoy.extensions.load_balancing_policies.random.v3.Random}"),
           "cluster 'o'.load_balancing_policy: not valid for an ORIGINAL_DST cluster"},
      },
      od);
}

TEST_CASE("lb_policy values and lb configs remora cannot honour are NACKed", "[xds][resilience]") {
  checkClusterNacks({
      {"lb_policy: LEAST_REQUEST\nleast_request_lb_config: {choice_count: 1}",
       "cluster 'c'.least_request_lb_config.choice_count: 1: must be at least 2"},
      {"lb_policy: LEAST_REQUEST\nleast_request_lb_config: {slow_start_config: "
       "{slow_start_window: 10s}}",
       "cluster 'c'.least_request_lb_config.slow_start_config: not supported by remora"},
      {"lb_policy: LEAST_REQUEST\nleast_request_lb_config: {active_request_bias: {default_value: "
       "-1}}",
       "cluster 'c'.least_request_lb_config.active_request_bias.default_value: -1: must be a "
       "finite value of 0 or more"},
      {"round_robin_lb_config: {slow_start_config: {slow_start_window: 1s}}",
       "cluster 'c'.round_robin_lb_config.slow_start_config: not supported by remora"},
      {"lb_policy: RING_HASH\nring_hash_lb_config: {hash_function: MURMUR_HASH_2}",
       "cluster 'c'.ring_hash_lb_config.hash_function: MURMUR_HASH_2 is not supported by remora "
       "(XX_HASH is)"},
      {"lb_policy: RING_HASH\nring_hash_lb_config: {minimum_ring_size: 4096, maximum_ring_size: "
       "2048}",
       "cluster 'c'.ring_hash_lb_config: minimum_ring_size (4096) > maximum_ring_size (2048)"},
      {"lb_policy: RING_HASH\nring_hash_lb_config: {maximum_ring_size: 8388609}",
       "cluster 'c'.ring_hash_lb_config.maximum_ring_size: 8388609 exceeds 8388608"},
      {"lb_policy: RING_HASH\nring_hash_lb_config: {minimum_ring_size: 8388609}",
       "cluster 'c'.ring_hash_lb_config.minimum_ring_size: 8388609 is not in [0, 8388608]"},
      {"lb_policy: MAGLEV\nmaglev_lb_config: {table_size: 65536}",
       "cluster 'c'.maglev_lb_config.table_size: 65536 is not a prime number"},
      {"lb_policy: MAGLEV\nmaglev_lb_config: {table_size: 5000012}",
       "cluster 'c'.maglev_lb_config.table_size: 5000012 exceeds 5000011"},
      {"lb_policy: CLUSTER_PROVIDED",
       "cluster 'c'.lb_policy: CLUSTER_PROVIDED is only valid for ORIGINAL_DST clusters"},
      {"lb_policy: LOAD_BALANCING_POLICY_CONFIG",
       "cluster 'c'.lb_policy: LOAD_BALANCING_POLICY_CONFIG needs load_balancing_policy"},
      {"lb_subset_config: {fallback_policy: ANY_ENDPOINT}",
       "cluster 'c'.lb_subset_config: not supported by remora"},
  });
}

TEST_CASE("load_balancing_policy: Envoy's typed policies and remora's peak EWMA",
          "[xds][resilience]") {
  const std::string ext = "type.googleapis.com/envoy.extensions.load_balancing_policies.";
  auto lr = edsOk(lbp(cat("{'@type': ", ext,
                          "least_request.v3.LeastRequest, choice_count: 4, active_request_bias: "
                          "{default_value: 2}, selection_method: N_CHOICES}")));
  CHECK(lr.lb_policy == LbPolicy::LeastRequest);
  CHECK(lr.least_request == config::LeastRequestConfig{4, 2.0});
  CHECK(edsOk(lbp(cat("{'@type': ", ext, "round_robin.v3.RoundRobin}"))).lb_policy ==
        LbPolicy::RoundRobin);
  CHECK(edsOk(lbp(cat("{'@type': ", ext, "random.v3.Random}"))).lb_policy == LbPolicy::Random);
  auto rh = edsOk(lbp(cat("{'@type': ", ext,
                          "ring_hash.v3.RingHash, hash_function: XX_HASH, minimum_ring_size: 16, "
                          "maximum_ring_size: 64, consistent_hashing_lb_config: {}}")));
  CHECK(rh.lb_policy == LbPolicy::RingHash);
  CHECK(rh.ring_hash == config::RingHashConfig{16, 64});
  auto mg = edsOk(lbp(cat("{'@type': ", ext, "maglev.v3.Maglev, table_size: 131}")));
  CHECK(mg.lb_policy == LbPolicy::Maglev);
  CHECK(mg.maglev.table_size == 131);

  auto pe = edsOk(lbp(peakEwma("{decay_time: 5s, default_rtt: 50ms}")));
  CHECK(pe.lb_policy == LbPolicy::PeakEwma);
  CHECK(pe.peak_ewma == config::PeakEwmaConfig{seconds(5), milliseconds(50)});
  auto pe_defaults = edsOk(lbp(peakEwma("{}")));
  CHECK(pe_defaults.lb_policy == LbPolicy::PeakEwma);
  CHECK(pe_defaults.peak_ewma == config::PeakEwmaConfig{});
  CHECK(edsOk(lbp(peakEwma("{decay_time: 1.5m, default_rtt: 0.25s}"))).peak_ewma ==
        config::PeakEwmaConfig{seconds(90), milliseconds(250)});
  // The older udpa TypedStruct wraps it just as well.
  CHECK(edsOk(lbp("{'@type': type.googleapis.com/udpa.type.v1.TypedStruct, type_url: "
                  "type.googleapis.com/remora.load_balancing_policies.peak_ewma, value: "
                  "{decay_time: 2s}}"))
            .peak_ewma.decay_time == seconds(2));
}

TEST_CASE("load_balancing_policy: the first known policy wins and supersedes lb_policy",
          "[xds][resilience]") {
  TranslateNotes notes;
  auto c = edsOk(R"(lb_policy: LEAST_REQUEST
least_request_lb_config: {choice_count: 5}
load_balancing_policy:
  policies:
  - typed_extension_config:
      name: fancy
      typed_config: {'@type': type.googleapis.com/xds.type.v3.TypedStruct, type_url: type.googleapis.com/acme.lb.Fancy, value: {}}
  - typed_extension_config:
      name: maglev
      typed_config: {'@type': type.googleapis.com/envoy.extensions.load_balancing_policies.maglev.v3.Maglev}
  - typed_extension_config:
      name: random
      typed_config: {'@type': type.googleapis.com/envoy.extensions.load_balancing_policies.random.v3.Random}
)",
                 &notes);
  CHECK(c.lb_policy == LbPolicy::Maglev);
  CHECK(c.least_request == config::LeastRequestConfig{});  // lb_policy's config is not read
  CHECK(notes.ignored == std::vector<std::string>{"cluster 'c'.lb_policy",
                                                  "cluster 'c'.least_request_lb_config",
                                                  "cluster 'c'.load_balancing_policy.policies[0]"});
  // LOAD_BALANCING_POLICY_CONFIG says the same thing explicitly.
  CHECK(edsOk(cat("lb_policy: LOAD_BALANCING_POLICY_CONFIG\n",
                  lbp("{'@type': "
                      "type.googleapis.com/"
                      "envoy.extensions.load_balancing_policies.random.v3.Random}")))
            .lb_policy == LbPolicy::Random);
}

TEST_CASE("load_balancing_policy: what remora cannot honour is NACKed", "[xds][resilience]") {
  const std::string ext = "type.googleapis.com/envoy.extensions.load_balancing_policies.";
  const std::string tc = cat(kLbpPath, ".typed_config");
  checkClusterNacks({
      {lbp(cat("{'@type': ", ext, "least_request.v3.LeastRequest, choice_count: 1}")),
       tc + ".choice_count: 1: must be at least 2"},
      {lbp(cat("{'@type': ", ext, "least_request.v3.LeastRequest, selection_method: FULL_SCAN}")),
       tc + ".selection_method: FULL_SCAN is not supported by remora (N_CHOICES is)"},
      {lbp(cat("{'@type': ", ext,
               "least_request.v3.LeastRequest, slow_start_config: {slow_start_window: 5s}}")),
       tc + ".slow_start_config: not supported by remora"},
      {lbp(cat("{'@type': ", ext,
               "round_robin.v3.RoundRobin, locality_lb_config: {locality_weighted_lb_config: "
               "{}}}")),
       tc + ".locality_lb_config: not supported by remora"},
      {lbp(cat("{'@type': ", ext, "ring_hash.v3.RingHash, hash_function: MURMUR_HASH_2}")),
       tc + ".hash_function: MURMUR_HASH_2 is not supported by remora (XX_HASH is)"},
      {lbp(cat("{'@type': ", ext, "ring_hash.v3.RingHash, minimum_ring_size: 0}")),
       tc + ".minimum_ring_size: 0 is not in [1, 8388608]"},
      {lbp(cat("{'@type': ", ext, "ring_hash.v3.RingHash, hash_balance_factor: 150}")),
       tc + ".hash_balance_factor: not supported by remora"},
      {lbp(cat("{'@type': ", ext,
               "maglev.v3.Maglev, consistent_hashing_lb_config: {use_hostname_for_hashing: "
               "true}}")),
       tc + ".consistent_hashing_lb_config.use_hostname_for_hashing: not supported by remora"},
      {lbp(cat("{'@type': ", ext, "maglev.v3.Maglev, table_size: 100}")),
       tc + ".table_size: 100 is not a prime number"},
      {lbp(peakEwma("{decay: 1s}")),
       tc + ".value.decay: not a field of remora's peak EWMA balancer (decay_time and "
            "default_rtt are)"},
      {lbp(peakEwma("{decay_time: 10}")),
       tc + ".value.decay_time: must be a duration string with a unit, such as \"10s\" or "
            "\"30ms\""},
      {lbp(peakEwma("{default_rtt: fast}")),
       tc + ".value.default_rtt: must be a duration string with a unit, such as \"10s\" or "
            "\"30ms\""},
      {lbp(peakEwma("{decay_time: 0s}")), tc + ".value.decay_time: must be at least 1ms"},
      {lbp("{'@type': type.googleapis.com/xds.type.v3.TypedStruct, type_url: "
           "type.googleapis.com/acme.lb.Fancy}"),
       "cluster 'c'.load_balancing_policy.policies: none is a policy remora implements "
       "(type.googleapis.com/xds.type.v3.TypedStruct wrapping type.googleapis.com/acme.lb.Fancy); "
       "round_robin, least_request, random, ring_hash, maglev and "
       "remora.load_balancing_policies.peak_ewma are"},
      {"load_balancing_policy: {}",
       "cluster 'c'.load_balancing_policy.policies: none is a policy remora implements (empty); "
       "round_robin, least_request, random, ring_hash, maglev and "
       "remora.load_balancing_policies.peak_ewma are"},
  });
  // A known policy with a bad config is an error, not a reason to skip to the next one.
  auto r = eds(cat(R"(load_balancing_policy:
  policies:
  - typed_extension_config:
      name: lr
      typed_config: {'@type': )",
                   ext, R"(least_request.v3.LeastRequest, choice_count: 1}
  - typed_extension_config:
      name: random
      typed_config: {'@type': )",
                   ext, "random.v3.Random}\n"));
  REQUIRE_FALSE(r.ok());
  CHECK(errorOf(r.status()) == tc + ".choice_count: 1: must be at least 2");
}

TEST_CASE("common_lb_config: the panic threshold, and what else changes balancing is NACKed",
          "[xds][resilience]") {
  CHECK(
      edsOk("common_lb_config: {healthy_panic_threshold: {value: 25.4}}").healthy_panic_threshold ==
      25);
  CHECK(edsOk("common_lb_config: {healthy_panic_threshold: {value: 0}}").healthy_panic_threshold ==
        0);
  CHECK(
      edsOk("common_lb_config: {healthy_panic_threshold: {value: 100}}").healthy_panic_threshold ==
      100);
  CHECK(edsOk("common_lb_config: {}").healthy_panic_threshold == 50);
  TranslateNotes notes;
  edsOk("common_lb_config: {update_merge_window: 3s, consistent_hashing_lb_config: {}}", &notes);
  CHECK(notes.ignored ==
        std::vector<std::string>{"cluster 'c'.common_lb_config.update_merge_window"});
  checkClusterNacks({
      {"common_lb_config: {healthy_panic_threshold: {value: 101}}",
       "cluster 'c'.common_lb_config.healthy_panic_threshold.value: 101 is not a percentage in "
       "[0, 100]"},
      {"common_lb_config: {zone_aware_lb_config: {}}",
       "cluster 'c'.common_lb_config.zone_aware_lb_config: not supported by remora"},
      {"common_lb_config: {locality_weighted_lb_config: {}}",
       "cluster 'c'.common_lb_config.locality_weighted_lb_config: not supported by remora"},
      {"common_lb_config: {ignore_new_hosts_until_first_hc: true}",
       "cluster 'c'.common_lb_config.ignore_new_hosts_until_first_hc: not supported by remora"},
      {"common_lb_config: {close_connections_on_host_set_change: true}",
       "cluster 'c'.common_lb_config.close_connections_on_host_set_change: not supported by "
       "remora"},
      {"common_lb_config: {consistent_hashing_lb_config: {hash_balance_factor: 150}}",
       "cluster 'c'.common_lb_config.consistent_hashing_lb_config.hash_balance_factor: not "
       "supported by remora"},
  });
}

// --- Circuit breakers ---

TEST_CASE("circuit breakers: any limits, per priority, with retry budgets", "[xds][resilience]") {
  auto c = edsOk(R"(circuit_breakers:
  thresholds:
  - {max_connections: 10, max_pending_requests: 20, max_requests: 30, max_retries: 4, track_remaining: true}
  - {priority: HIGH, max_connections: 100, retry_budget: {}}
)");
  const auto& d = c.circuit_breakers.default_priority;
  CHECK(d.max_connections == 10);
  CHECK(d.max_pending_requests == 20);
  CHECK(d.max_requests == 30);
  CHECK(d.max_retries == 4);
  CHECK(d.track_remaining);
  CHECK_FALSE(d.retry_budget_percent);
  const auto& h = c.circuit_breakers.high_priority;
  CHECK(h.max_connections == 100);
  CHECK(h.max_pending_requests == 1024);
  CHECK(h.max_requests == 1024);
  CHECK(h.max_retries == 3);
  CHECK_FALSE(h.track_remaining);
  REQUIRE(h.retry_budget_percent);
  CHECK(*h.retry_budget_percent == 20.0);  // Envoy's defaults once retry_budget is present
  CHECK(h.min_retry_concurrency == 3);

  auto b = edsOk(
      "circuit_breakers: {thresholds: [{priority: HIGH, retry_budget: {budget_percent: {value: "
      "12.5}, min_retry_concurrency: 0}}]}");
  CHECK(*b.circuit_breakers.high_priority.retry_budget_percent == 12.5);
  CHECK(b.circuit_breakers.high_priority.min_retry_concurrency == 0);
  CHECK(b.circuit_breakers.default_priority == config::CircuitBreakerThresholds{});
  // Zero is a limit too.
  CHECK(edsOk("circuit_breakers: {thresholds: [{max_retries: 0}]}")
            .circuit_breakers.default_priority.max_retries == 0);

  checkClusterNacks({
      {"circuit_breakers: {thresholds: [{max_connections: 1}, {priority: DEFAULT, max_requests: "
       "2}]}",
       "cluster 'c'.circuit_breakers.thresholds[1].priority: DEFAULT has thresholds already"},
      {"circuit_breakers: {per_host_thresholds: [{max_connections: 1}]}",
       "cluster 'c'.circuit_breakers.per_host_thresholds: not supported by remora"},
      {"circuit_breakers: {thresholds: [{max_connection_pools: 5}]}",
       "cluster 'c'.circuit_breakers.thresholds[0].max_connection_pools: not supported by remora"},
      {"circuit_breakers: {thresholds: [{retry_budget: {budget_percent: {value: 120}}}]}",
       "cluster 'c'.circuit_breakers.thresholds[0].retry_budget.budget_percent.value: 120 is not "
       "a percentage in [0, 100]"},
  });
}

// --- Outlier detection ---

TEST_CASE("outlier detection: every field, Envoy's defaults when absent", "[xds][resilience]") {
  auto empty = edsOk("outlier_detection: {}");
  REQUIRE(empty.outlier_detection);
  CHECK(*empty.outlier_detection == config::OutlierDetectionConfig{});

  auto c = edsOk(R"(outlier_detection:
  consecutive_5xx: 7
  interval: 3s
  base_ejection_time: 20s
  max_ejection_percent: 50
  enforcing_consecutive_5xx: 90
  enforcing_success_rate: 80
  success_rate_minimum_hosts: 3
  success_rate_request_volume: 40
  success_rate_stdev_factor: 2500
  consecutive_gateway_failure: 4
  enforcing_consecutive_gateway_failure: 70
  split_external_local_origin_errors: true
  consecutive_local_origin_failure: 6
  enforcing_consecutive_local_origin_failure: 60
  enforcing_local_origin_success_rate: 55
  failure_percentage_threshold: 75
  enforcing_failure_percentage: 45
  enforcing_failure_percentage_local_origin: 35
  failure_percentage_minimum_hosts: 8
  failure_percentage_request_volume: 30
  max_ejection_time: 120s
  max_ejection_time_jitter: 2s
  successful_active_health_check_uneject_host: false
  always_eject_one_host: false
)");
  REQUIRE(c.outlier_detection);
  const auto& o = *c.outlier_detection;
  CHECK(o.consecutive_5xx == 7);
  CHECK(o.interval == seconds(3));
  CHECK(o.base_ejection_time == seconds(20));
  CHECK(o.max_ejection_percent == 50);
  CHECK(o.enforcing_consecutive_5xx == 90);
  CHECK(o.enforcing_success_rate == 80);
  CHECK(o.success_rate_minimum_hosts == 3);
  CHECK(o.success_rate_request_volume == 40);
  CHECK(o.success_rate_stdev_factor == 2500);
  CHECK(o.consecutive_gateway_failure == 4);
  CHECK(o.enforcing_consecutive_gateway_failure == 70);
  CHECK(o.split_external_local_origin_errors);
  CHECK(o.consecutive_local_origin_failure == 6);
  CHECK(o.enforcing_consecutive_local_origin_failure == 60);
  CHECK(o.enforcing_local_origin_success_rate == 55);
  CHECK(o.failure_percentage_threshold == 75);
  CHECK(o.enforcing_failure_percentage == 45);
  CHECK(o.enforcing_failure_percentage_local_origin == 35);
  CHECK(o.failure_percentage_minimum_hosts == 8);
  CHECK(o.failure_percentage_request_volume == 30);
  CHECK(o.max_ejection_time == seconds(120));
  CHECK(o.max_ejection_time_jitter == seconds(2));
  CHECK_FALSE(o.successful_active_health_check_uneject_host);

  // Envoy: without max_ejection_time, 300 s or base_ejection_time, whichever is larger.
  CHECK(
      edsOk("outlier_detection: {base_ejection_time: 400s}").outlier_detection->max_ejection_time ==
      seconds(400));
  CHECK(
      edsOk("outlier_detection: {base_ejection_time: 10s}").outlier_detection->max_ejection_time ==
      seconds(300));
  // Zero counts are values (Envoy: 0 disables that detector's ejections in effect).
  CHECK(edsOk("outlier_detection: {consecutive_5xx: 0}").outlier_detection->consecutive_5xx == 0);

  checkClusterNacks({
      {"outlier_detection: {max_ejection_percent: 101}",
       "cluster 'c'.outlier_detection.max_ejection_percent: 101 exceeds 100"},
      {"outlier_detection: {enforcing_success_rate: 101}",
       "cluster 'c'.outlier_detection.enforcing_success_rate: 101 exceeds 100"},
      {"outlier_detection: {failure_percentage_threshold: 200}",
       "cluster 'c'.outlier_detection.failure_percentage_threshold: 200 exceeds 100"},
      {"outlier_detection: {interval: 0s}",
       "cluster 'c'.outlier_detection.interval: must be positive"},
      {"outlier_detection: {base_ejection_time: 0s}",
       "cluster 'c'.outlier_detection.base_ejection_time: must be positive"},
      {"outlier_detection: {base_ejection_time: 60s, max_ejection_time: 30s}",
       "cluster 'c'.outlier_detection.max_ejection_time: 30000ms cannot be smaller than "
       "base_ejection_time (60000ms)"},
      {"outlier_detection: {max_ejection_time_jitter: -1s}",
       "cluster 'c'.outlier_detection.max_ejection_time_jitter: must not be negative"},
      {"outlier_detection: {always_eject_one_host: true}",
       "cluster 'c'.outlier_detection.always_eject_one_host: true is not supported by remora"},
  });
}

// --- Health checks ---

TEST_CASE("HTTP health checks: every field into the model", "[xds][resilience]") {
  TranslateNotes notes;
  auto c = edsOk(R"(health_checks:
- timeout: 2s
  interval: 10s
  initial_jitter: 1s
  interval_jitter: 0.5s
  interval_jitter_percent: 10
  unhealthy_threshold: 3
  healthy_threshold: 2
  reuse_connection: true
  no_traffic_interval: 30s
  unhealthy_interval: 20s
  unhealthy_edge_interval: 1s
  healthy_edge_interval: 2s
  always_log_health_check_failures: true
  always_log_health_check_success: true
  http_health_check:
    host: health.local
    path: /healthz
    expected_statuses: [{start: 200, end: 300}, {start: 404, end: 405}]
    request_headers_to_add:
    - header: {key: X-Probe, value: remora}
    - header: {key: x-empty, value: ""}
    - header: {key: x-kept, value: ""}
      keep_empty_value: true
    - header: {key: x-append, value: "1"}
      append_action: APPEND_IF_EXISTS_OR_ADD
    request_headers_to_remove: [User-Agent]
    codec_client_type: HTTP1
    method: GET
)",
                 &notes);
  REQUIRE(c.health_checks.size() == 1);
  const auto& h = c.health_checks[0];
  CHECK(h.kind == config::HealthCheckConfig::Kind::Http);
  CHECK(h.timeout == seconds(2));
  CHECK(h.interval == seconds(10));
  CHECK(h.initial_jitter == seconds(1));
  CHECK(h.interval_jitter == milliseconds(500));
  CHECK(h.interval_jitter_percent == 10);
  CHECK(h.unhealthy_threshold == 3);
  CHECK(h.healthy_threshold == 2);
  CHECK(h.no_traffic_interval == seconds(30));
  CHECK(h.unhealthy_interval == std::optional<config::Duration>(seconds(20)));
  CHECK(h.unhealthy_edge_interval == std::optional<config::Duration>(seconds(1)));
  CHECK(h.healthy_edge_interval == std::optional<config::Duration>(seconds(2)));
  CHECK(h.always_log_health_check_failures);
  CHECK(h.host == "health.local");
  CHECK(h.path == "/healthz");
  CHECK(h.expected_statuses == std::vector<std::pair<uint32_t, uint32_t>>{{200, 300}, {404, 405}});
  // Envoy leaves out an empty value unless keep_empty_value; names are lower case.
  CHECK(h.request_headers_to_add == std::vector<std::pair<std::string, std::string>>{
                                        {"x-probe", "remora"}, {"x-kept", ""}, {"x-append", "1"}});
  CHECK(h.request_headers_to_remove == std::vector<std::string>{"user-agent"});
  CHECK(notes.ignored ==
        std::vector<std::string>{"cluster 'c'.health_checks[0].always_log_health_check_success"});

  // Only the required fields: Envoy's defaults for the rest.
  auto d = edsOk(
      "health_checks: [{timeout: 1s, interval: 5s, unhealthy_threshold: 1, healthy_threshold: 1, "
      "http_health_check: {path: /ready}}]");
  const auto& m = d.health_checks.at(0);
  CHECK(m.initial_jitter == milliseconds(0));
  CHECK(m.interval_jitter == milliseconds(0));
  CHECK(m.interval_jitter_percent == 0);
  CHECK(m.no_traffic_interval == seconds(60));
  CHECK_FALSE(m.unhealthy_interval);
  CHECK_FALSE(m.unhealthy_edge_interval);
  CHECK_FALSE(m.healthy_edge_interval);
  CHECK_FALSE(m.always_log_health_check_failures);
  CHECK(m.host.empty());               // the cluster's name, at check time
  CHECK(m.expected_statuses.empty());  // 200 only
  CHECK(m.request_headers_to_add.empty());
}

TEST_CASE("TCP health checks: text payloads are hex, binary ones bytes", "[xds][resilience]") {
  auto c = edsOk(R"(health_checks:
- timeout: 1s
  interval: 1s
  unhealthy_threshold: 2
  healthy_threshold: 1
  tcp_health_check:
    send: {text: "50494e470d0a"}
    receive: [{text: "504F4E47"}, {binary: "T0s="}]
- timeout: 0.2s
  interval: 1s
  unhealthy_threshold: 2
  healthy_threshold: 1
  tcp_health_check: {}
)");
  REQUIRE(c.health_checks.size() == 2);
  const auto& t = c.health_checks[0];
  CHECK(t.kind == config::HealthCheckConfig::Kind::Tcp);
  CHECK(t.send == "PING\r\n");
  CHECK(t.receive == std::vector<std::string>{"PONG", "OK"});
  const auto& connect_only = c.health_checks[1];
  CHECK(connect_only.kind == config::HealthCheckConfig::Kind::Tcp);
  CHECK(connect_only.timeout == milliseconds(200));
  CHECK(connect_only.send.empty());
  CHECK(connect_only.receive.empty());
}

TEST_CASE("health checks remora cannot run as Envoy would are NACKed", "[xds][resilience]") {
  const std::string base =
      "timeout: 1s, interval: 1s, unhealthy_threshold: 1, healthy_threshold: 1";
  auto hc = [&](const std::string& rest) {
    return cat("health_checks: [{", base, ", ", rest, "}]");
  };
  auto http = [&](const std::string& rest) {
    return hc(cat("http_health_check: {path: /h, ", rest, "}"));
  };
  const std::string p = "cluster 'c'.health_checks[0]";
  checkClusterNacks({
      {"health_checks: [{interval: 1s, unhealthy_threshold: 1, healthy_threshold: 1, "
       "tcp_health_check: {}}]",
       p + ".timeout: is required"},
      {"health_checks: [{timeout: 1s, unhealthy_threshold: 1, healthy_threshold: 1, "
       "tcp_health_check: {}}]",
       p + ".interval: is required"},
      {"health_checks: [{timeout: 1s, interval: 0s, unhealthy_threshold: 1, healthy_threshold: "
       "1, tcp_health_check: {}}]",
       p + ".interval: must be positive"},
      {"health_checks: [{timeout: 1s, interval: 1s, healthy_threshold: 1, tcp_health_check: {}}]",
       p + ".unhealthy_threshold: is required"},
      {"health_checks: [{timeout: 1s, interval: 1s, unhealthy_threshold: 1, tcp_health_check: "
       "{}}]",
       p + ".healthy_threshold: is required"},
      {cat("health_checks: [{", base, "}]"), p + ": needs http_health_check or tcp_health_check"},
      {hc("initial_jitter: -1s, tcp_health_check: {}"),
       p + ".initial_jitter: must not be negative"},
      {hc("unhealthy_interval: 0s, tcp_health_check: {}"),
       p + ".unhealthy_interval: must be positive"},
      {hc("no_traffic_interval: 0s, tcp_health_check: {}"),
       p + ".no_traffic_interval: must be positive"},
      {hc("reuse_connection: false, tcp_health_check: {}"),
       p + ".reuse_connection: false is not supported by remora"},
      {hc("alt_port: 8080, tcp_health_check: {}"), p + ".alt_port: not supported by remora"},
      {hc("no_traffic_healthy_interval: 10s, tcp_health_check: {}"),
       p + ".no_traffic_healthy_interval: not supported by remora"},
      {hc("event_log_path: /tmp/hc.log, tcp_health_check: {}"),
       p + ".event_log_path: not supported by remora"},
      {hc("tls_options: {alpn_protocols: [h2]}, tcp_health_check: {}"),
       p + ".tls_options: not supported by remora"},
      {hc("transport_socket_match_criteria: {tls: on}, tcp_health_check: {}"),
       p + ".transport_socket_match_criteria: not supported by remora"},
      {hc("grpc_health_check: {service_name: s}"),
       p + ".grpc_health_check: not supported by remora"},
      {hc("custom_health_check: {name: x}"), p + ".custom_health_check: not supported by remora"},
      {hc("http_health_check: {host: h}"), p + ".http_health_check.path: is required"},
      {http("codec_client_type: HTTP2"),
       p + ".http_health_check.codec_client_type: HTTP2 is not supported by remora (HTTP1 is)"},
      {http("method: POST"), p + ".http_health_check.method: POST is not supported by remora (GET "
                                 "is)"},
      {http("expected_statuses: [{start: 200, end: 200}]"),
       p + ".http_health_check.expected_statuses[0]: [200, 200) is not a non-empty range of "
           "statuses within [100, 600)"},
      {http("expected_statuses: [{start: 99, end: 200}]"),
       p + ".http_health_check.expected_statuses[0]: [99, 200) is not a non-empty range of "
           "statuses within [100, 600)"},
      {http("expected_statuses: [{start: 200, end: 601}]"),
       p + ".http_health_check.expected_statuses[0]: [200, 601) is not a non-empty range of "
           "statuses within [100, 600)"},
      {http("request_headers_to_add: [{header: {key: x, value: y}, append_action: "
            "OVERWRITE_IF_EXISTS_OR_ADD}]"),
       p + ".http_health_check.request_headers_to_add[0].append_action: only "
           "APPEND_IF_EXISTS_OR_ADD is supported by remora in health checks"},
      {http("request_headers_to_add: [{header: {key: x, value: y}, append: false}]"),
       p + ".http_health_check.request_headers_to_add[0].append: only APPEND_IF_EXISTS_OR_ADD is "
           "supported by remora in health checks"},
      {http("request_headers_to_add: [{header: {key: x, value: '%HOSTNAME%'}}]"),
       p + ".http_health_check.request_headers_to_add[0].header.value: '%HOSTNAME%': Envoy's "
           "%VARIABLE% substitutions are not supported by remora (write %% for a literal '%')"},
      {http("request_headers_to_add: [{header: {key: Host, value: y}}]"),
       p + ".http_health_check.request_headers_to_add[0].header.key: 'Host': :-prefixed or host "
           "headers may not be modified"},
      {http("request_headers_to_remove: [':path']"),
       p + ".http_health_check.request_headers_to_remove[0]: ':path': :-prefixed or host headers "
           "may not be removed"},
      {http("send: {text: '00'}"), p + ".http_health_check.send: not supported by remora"},
      {http("retriable_statuses: [{start: 500, end: 501}]"),
       p + ".http_health_check.retriable_statuses: not supported by remora"},
      {hc("tcp_health_check: {send: {text: '0g'}}"),
       p + ".tcp_health_check.send.text: '0g' is not hex (Envoy reads text payloads as hex "
           "bytes)"},
      {hc("tcp_health_check: {receive: [{text: abc}]}"),
       p + ".tcp_health_check.receive[0].text: 'abc' is not hex (Envoy reads text payloads as "
           "hex bytes)"},
      {hc("tcp_health_check: {proxy_protocol_config: {}}"),
       p + ".tcp_health_check.proxy_protocol_config: not supported by remora"},
  });
}

// --- EDS: priorities, health, weights, overprovisioning ---

TEST_CASE("ClusterLoadAssignment: priorities, degraded hosts flagged, the overprovisioning factor",
          "[xds][resilience]") {
  auto cla = parse<ClusterLoadAssignment>(R"(
cluster_name: reviews
policy: {overprovisioning_factor: 200}
endpoints:
- priority: 1
  lb_endpoints:
  - endpoint: {address: {socket_address: {address: 192.0.2.20, port_value: 80}}}
- lb_endpoints:
  - endpoint: {address: {socket_address: {address: 192.0.2.10, port_value: 80}}}
    health_status: DEGRADED
    load_balancing_weight: 5
  - endpoint:
      address: {socket_address: {address: 192.0.2.11, port_value: 80}}
      health_check_config: {}
    health_status: HEALTHY
  - endpoint: {address: {socket_address: {address: 192.0.2.12, port_value: 80}}}
    health_status: TIMEOUT
  - endpoint: {address: {socket_address: {address: 192.0.2.13, port_value: 80}}}
    health_status: UNHEALTHY
)");
  auto la = translateLoadAssignment(cla, "cla 'reviews'", nullptr);
  INFO(la.status().ToString());
  REQUIRE(la.ok());
  CHECK(la->overprovisioning_factor == 200);
  REQUIRE(la->endpoints.size() == 3);
  const auto& e = la->endpoints;
  CHECK(e[0].address.toString() == "192.0.2.20:80");
  CHECK(e[0].priority == 1);
  CHECK_FALSE(e[0].degraded);
  // A degraded host is listed next to the healthy one (the balancer uses it only when needed).
  CHECK(e[1].address.toString() == "192.0.2.10:80");
  CHECK(e[1].priority == 0);
  CHECK(e[1].weight == 5);
  CHECK(e[1].degraded);
  CHECK(e[2].address.toString() == "192.0.2.11:80");
  CHECK_FALSE(e[2].degraded);
  CHECK(e[2].weight == 1);

  auto plain = translateLoadAssignment(
      parse<ClusterLoadAssignment>("cluster_name: x\nendpoints: [{lb_endpoints: [{endpoint: "
                                   "{address: {socket_address: {address: 192.0.2.1, port_value: "
                                   "1}}}, health_status: DEGRADED}]}]"),
      "cla 'x'", nullptr);
  REQUIRE(plain.ok());
  CHECK(plain->overprovisioning_factor == 140);
  REQUIRE(plain->endpoints.size() == 1);
  CHECK(plain->endpoints[0].degraded);

  // A STATIC cluster's own assignment carries its factor to the cluster.
  auto s = translateCluster(parse<Cluster>(R"(
name: s
type: STATIC
load_assignment:
  cluster_name: s
  policy: {overprovisioning_factor: 120}
  endpoints:
  - lb_endpoints: [{endpoint: {address: {socket_address: {address: 192.0.2.1, port_value: 80}}}}]
  - priority: 1
    lb_endpoints: [{endpoint: {address: {socket_address: {address: 192.0.2.2, port_value: 80}}}}]
)"),
                            nullptr);
  INFO(s.status().ToString());
  REQUIRE(s.ok());
  CHECK(s->overprovisioning_factor == 120);
  REQUIRE(s->endpoints.size() == 2);
  CHECK(s->endpoints[1].priority == 1);
}

TEST_CASE("ClusterLoadAssignment: what remora cannot honour is NACKed", "[xds][resilience]") {
  const std::string ep =
      "{endpoint: {address: {socket_address: {address: 192.0.2.1, port_value: 80}}}}";
  auto cla = [&](const std::string& rest) { return cat("cluster_name: x\n", rest); };
  for (const Bad& b : std::vector<Bad>{
           {cla("policy: {overprovisioning_factor: 0}"),
            "cla 'x'.policy.overprovisioning_factor: must be above 0"},
           {cla("policy: {drop_overloads: [{category: c, drop_percentage: {numerator: 1}}]}"),
            "cla 'x'.policy.drop_overloads: not supported by remora"},
           {cla("policy: {endpoint_stale_after: 10s}"),
            "cla 'x'.policy.endpoint_stale_after: not supported by remora"},
           {cla("policy: {weighted_priority_health: true}"),
            "cla 'x'.policy.weighted_priority_health: not supported by remora"},
           {cla(cat("endpoints: [{lb_endpoints: [", ep, "]}, {priority: 2, lb_endpoints: [", ep,
                    "]}]")),
            "cla 'x'.endpoints[1].priority: 2: priorities must run from 0 without gaps (1 is "
            "missing)"},
           {cla(cat("endpoints: [{priority: 129, lb_endpoints: [", ep, "]}]")),
            "cla 'x'.endpoints[0].priority: 129 exceeds 128"},
           {cla("endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: "
                "192.0.2.1, port_value: 80}}, health_check_config: {port_value: 8080}}}]}]"),
            "cla 'x'.endpoints[0].lb_endpoints[0].endpoint.health_check_config.port_value: not "
            "supported by remora"},
           {cla("endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: "
                "192.0.2.1, port_value: 80}}, health_check_config: {hostname: h}}}]}]"),
            "cla 'x'.endpoints[0].lb_endpoints[0].endpoint.health_check_config.hostname: not "
            "supported by remora"},
           {cla("endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: "
                "192.0.2.1, port_value: 80}}, health_check_config: {disable_active_health_check: "
                "true}}}]}]"),
            "cla 'x'.endpoints[0].lb_endpoints[0].endpoint.health_check_config."
            "disable_active_health_check: not supported by remora"},
       }) {
    INFO(b.yaml);
    auto r = translateLoadAssignment(parse<ClusterLoadAssignment>(b.yaml), "cla 'x'", nullptr);
    REQUIRE_FALSE(r.ok());
    CHECK(errorOf(r.status()) == b.error);
  }
}

// --- Routes: retries, hashing, priority, buffer limits, attempt counts ---

absl::StatusOr<config::RouteTableConfig> routeTable(const std::string& yaml,
                                                    TranslateNotes* notes = nullptr) {
  return translateRouteConfiguration(parse<RouteConfiguration>(yaml), "route_configuration 'rc'",
                                     notes);
}

TEST_CASE("route retry and hash policies, priority and buffer limits arrive in the model",
          "[xds][resilience]") {
  TranslateNotes notes;
  auto rc = routeTable(R"(
name: rc
virtual_hosts:
- name: v
  domains: ['*']
  include_request_attempt_count: true
  include_attempt_count_in_response: true
  per_request_buffer_limit_bytes: 4096
  retry_policy: {retry_on: connect-failure, num_retries: 5}
  routes:
  - match: {prefix: /own}
    per_request_buffer_limit_bytes: 65536
    route:
      cluster: a
      priority: HIGH
      retry_policy:
        retry_on: "5xx, gateway-error,reset,connect-failure,retriable-4xx,refused-stream,retriable-status-codes,cancelled,deadline-exceeded,resource-exhausted,unavailable,internal,envoy-ratelimited,reset-before-request"
        num_retries: 3
        per_try_timeout: 2s
        per_try_idle_timeout: 1s
        retry_back_off: {base_interval: 0.1s, max_interval: 2s}
        retriable_status_codes: [503, 429]
        retry_host_predicate: [{name: envoy.retry_host_predicates.previous_hosts}]
        host_selection_retry_max_attempts: 5
      hash_policy:
      - header: {header_name: X-User}
      - cookie: {name: session, path: /}
        terminal: true
      - connection_properties: {source_ip: true}
      - connection_properties: {source_ip: false}
      - query_parameter: {name: shard}
  - match: {prefix: /}
    route: {cluster: b, priority: DEFAULT}
)",
                       &notes);
  INFO(rc.status().ToString());
  REQUIRE(rc.ok());
  const auto& routes = rc->virtual_hosts.at(0).routes;
  REQUIRE(routes.size() == 2);
  const auto& own = routes[0].route;
  REQUIRE(own.retry_policy);
  const RetryPolicyConfig& r = *own.retry_policy;
  CHECK(r.retry_on ==
        (RetryPolicyConfig::k5xx | RetryPolicyConfig::kGatewayError | RetryPolicyConfig::kReset |
         RetryPolicyConfig::kConnectFailure | RetryPolicyConfig::kRetriable4xx |
         RetryPolicyConfig::kRefusedStream | RetryPolicyConfig::kRetriableStatusCodes |
         RetryPolicyConfig::kGrpcCancelled | RetryPolicyConfig::kGrpcDeadlineExceeded |
         RetryPolicyConfig::kGrpcResourceExhausted | RetryPolicyConfig::kGrpcUnavailable |
         RetryPolicyConfig::kGrpcInternal | RetryPolicyConfig::kEnvoyRateLimited |
         RetryPolicyConfig::kResetBeforeRequest));
  CHECK(r.num_retries == 3);
  CHECK(r.per_try_timeout == std::optional<config::Duration>(seconds(2)));
  CHECK(r.per_try_idle_timeout == std::optional<config::Duration>(seconds(1)));
  CHECK(r.base_interval == milliseconds(100));
  CHECK(r.max_interval == seconds(2));
  CHECK(r.retriable_status_codes == std::vector<uint32_t>{503, 429});
  CHECK(r.previous_hosts_predicate);
  CHECK(r.host_selection_retry_max_attempts == 5);
  // source_ip: false produces no hash in Envoy, so it is not an entry.
  using K = config::HashPolicyConfig::Kind;
  CHECK(own.hash_policy ==
        std::vector<config::HashPolicyConfig>{{K::Header, "x-user", false},
                                              {K::Cookie, "session", true},
                                              {K::SourceIp, "", false},
                                              {K::QueryParameter, "shard", false}});
  CHECK(own.high_priority);
  CHECK(own.retry_buffer_limit == 65536);  // the route's own limit wins
  CHECK(own.include_request_attempt_count);
  CHECK(own.include_attempt_count_in_response);

  // The second route inherits the virtual host's retry policy and buffer limit.
  const auto& plain = routes[1].route;
  REQUIRE(plain.retry_policy);
  RetryPolicyConfig vh_policy;
  vh_policy.retry_on = RetryPolicyConfig::kConnectFailure;
  vh_policy.num_retries = 5;
  CHECK(*plain.retry_policy == vh_policy);
  CHECK(plain.retry_buffer_limit == 4096);
  CHECK_FALSE(plain.high_priority);
  CHECK(plain.hash_policy.empty());
  CHECK(plain.include_request_attempt_count);
  CHECK(plain.include_attempt_count_in_response);
  // The cookie's path only shapes a generated cookie (none without a ttl): noted.
  CHECK(notes.ignored ==
        std::vector<std::string>{"route_configuration 'rc'.virtual_hosts[0].routes[0].route.hash_"
                                 "policy[1].cookie.path"});
}

TEST_CASE("route retry policy defaults are Envoy's", "[xds][resilience]") {
  TranslateNotes notes;
  auto rc = routeTable(R"(
name: rc
virtual_hosts:
- name: v
  domains: ['*']
  routes:
  - match: {prefix: /a}
    route: {cluster: a, retry_policy: {}}
  - match: {prefix: /b}
    route:
      cluster: b
      retry_policy: {retry_on: "5xx,http3-post-connect-failure", retry_back_off: {base_interval: 0.04s}, per_try_timeout: 0s}
  - match: {prefix: /}
    route: {cluster: c}
)",
                       &notes);
  INFO(rc.status().ToString());
  REQUIRE(rc.ok());
  const auto& routes = rc->virtual_hosts.at(0).routes;
  REQUIRE(routes[0].route.retry_policy);
  const auto& d = *routes[0].route.retry_policy;
  CHECK(d == RetryPolicyConfig{});
  CHECK(d.num_retries == 1);
  CHECK(d.base_interval == milliseconds(25));
  CHECK(d.max_interval == milliseconds(250));
  CHECK_FALSE(d.per_try_timeout);
  CHECK(d.host_selection_retry_max_attempts == 1);
  CHECK_FALSE(d.previous_hosts_predicate);

  const auto& b = *routes[1].route.retry_policy;
  CHECK(b.retry_on == (RetryPolicyConfig::k5xx | RetryPolicyConfig::kHttp3PostConnectFailure));
  CHECK(b.base_interval == milliseconds(40));
  CHECK(b.max_interval == milliseconds(400));  // 10 x base_interval
  CHECK_FALSE(b.per_try_timeout);              // 0 is none
  // No HTTP/3 upstreams: the condition never applies, which the notes say.
  CHECK(notes.ignored ==
        std::vector<std::string>{"route_configuration 'rc'.virtual_hosts[0].routes[1].route."
                                 "retry_policy.retry_on (http3-post-connect-failure)"});

  const auto& c = routes[2].route;
  CHECK_FALSE(c.retry_policy);
  CHECK(c.retry_buffer_limit == 1024 * 1024);
  CHECK_FALSE(c.include_request_attempt_count);
  CHECK_FALSE(c.include_attempt_count_in_response);
  CHECK_FALSE(c.high_priority);
}

TEST_CASE("route retry and hash policies remora cannot honour are NACKed", "[xds][resilience]") {
  auto retry = [](const std::string& policy) {
    return cat(
        "name: rc\nvirtual_hosts:\n- name: v\n  domains: ['*']\n  routes:\n  - {match: {prefix: "
        "/}, route: {cluster: c, retry_policy: ",
        policy, "}}\n");
  };
  auto hash = [](const std::string& entry) {
    return cat(
        "name: rc\nvirtual_hosts:\n- name: v\n  domains: ['*']\n  routes:\n  - {match: {prefix: "
        "/}, route: {cluster: c, hash_policy: [",
        entry, "]}}\n");
  };
  const std::string r0 = "route_configuration 'rc'.virtual_hosts[0].routes[0].route";
  const std::string rp = r0 + ".retry_policy";
  for (
      const Bad& b : std::vector<Bad>{
          {retry("{retry_on: '5xx,retriable-headers'}"),
           rp + ".retry_on: 'retriable-headers' is not a retry condition remora implements"},
          {retry("{retry_on: '5xx, bogus'}"),
           rp + ".retry_on: 'bogus' is not a retry condition remora implements"},
          {retry("{retry_back_off: {max_interval: 1s}}"),
           rp + ".retry_back_off.base_interval: is required"},
          {retry("{retry_back_off: {base_interval: 0s}}"),
           rp + ".retry_back_off.base_interval: must be positive"},
          {retry("{retry_back_off: {base_interval: 1s, max_interval: 0.5s}}"),
           rp + ".retry_back_off.max_interval: 500ms is less than base_interval (1000ms)"},
          {retry("{retry_host_predicate: [{name: envoy.retry_host_predicates.omit_canary_hosts}]}"),
           rp + ".retry_host_predicate[0]: 'envoy.retry_host_predicates.omit_canary_hosts' is not "
                "supported by remora (envoy.retry_host_predicates.previous_hosts with an empty "
                "config is)"},
          {retry("{retriable_headers: [{name: x-retry}]}"),
           rp + ".retriable_headers: not supported by remora"},
          {retry("{retriable_request_headers: [{name: x-retry}]}"),
           rp + ".retriable_request_headers: not supported by remora"},
          {retry("{rate_limited_retry_back_off: {reset_headers: [{name: retry-after}]}}"),
           rp + ".rate_limited_retry_back_off: not supported by remora"},
          {retry("{retry_priority: {name: envoy.retry_priorities.previous_priorities}}"),
           rp + ".retry_priority: not supported by remora"},
          {retry("{retry_options_predicates: [{name: x}]}"),
           rp + ".retry_options_predicates: not supported by remora"},
          {retry("{host_selection_retry_max_attempts: -1}"),
           rp + ".host_selection_retry_max_attempts: -1 is negative"},
          {retry("{per_try_timeout: -1s}"), rp + ".per_try_timeout: must not be negative"},
          {hash("{header: {header_name: x, regex_rewrite: {pattern: {regex: a}, substitution: "
                "b}}}"),
           r0 + ".hash_policy[0].header.regex_rewrite: not supported by remora"},
          {hash("{header: {header_name: ''}}"),
           r0 + ".hash_policy[0].header.header_name: must not be empty"},
          {hash("{cookie: {name: s, ttl: 0s}}"),
           r0 + ".hash_policy[0].cookie.ttl: generating the cookie (a ttl) is not supported by "
                "remora"},
          {hash("{cookie: {path: /}}"), r0 + ".hash_policy[0].cookie.name: must not be empty"},
          {hash("{query_parameter: {}}"),
           r0 + ".hash_policy[0].query_parameter.name: must not be empty"},
          {hash("{filter_state: {key: k}}"),
           r0 + ".hash_policy[0].filter_state: not supported by remora"},
          {hash("{terminal: true}"),
           r0 + ".hash_policy[0]: needs one of header, cookie, connection_properties or "
                "query_parameter"},
          {"name: rc\nvirtual_hosts:\n- {name: v, domains: ['*'], retry_policy: {retry_on: "
           "nope}}\n",
           "route_configuration 'rc'.virtual_hosts[0].retry_policy.retry_on: 'nope' is not a "
           "retry condition remora implements"},
          {"name: rc\nvirtual_hosts:\n- {name: v, domains: ['*'], hedge_policy: "
           "{initial_requests: 2}}\n",
           "route_configuration 'rc'.virtual_hosts[0].hedge_policy: not supported by remora"},
          {"name: rc\nvirtual_hosts:\n- {name: v, domains: ['*'], include_is_timeout_retry_header: "
           "true}\n",
           "route_configuration 'rc'.virtual_hosts[0].include_is_timeout_retry_header: not "
           "supported by remora"},
      }) {
    INFO(b.yaml);
    auto r = routeTable(b.yaml);
    REQUIRE_FALSE(r.ok());
    CHECK(errorOf(r.status()) == b.error);
  }
}

}  // namespace
}  // namespace remora::xds
