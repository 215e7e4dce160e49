// remora-control's low-level source: a directory of Envoy-format resource files (YAML or
// JSON, one resource per document, each with its "@type"). Files at the top level are for
// every node; files under nodes/<node-id>/ add to or replace them for that node. A change on
// disk is pushed after the writes settle (debounced), within 100 ms.
#pragma once

#include <uv.h>

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "proxy/config/config.h"
#include "xds/server/cache.h"

namespace remora::xds {

// Parsed documents of one file, kept while the file is unchanged (same size and mtime), so
// that a change to one file re-reads that file only.
struct ParsedFile {
  int64_t mtime_ns = 0;
  uint64_t size = 0;
  std::vector<std::shared_ptr<const google::protobuf::Any>> documents;
  std::vector<std::string> names, versions;  // per document
};
using ParsedFiles =
    std::map<std::string, std::shared_ptr<const ParsedFile>>;  // shared: cheap to carry

// Reads the directory into per-node snapshots ("" = every node). Errors name the file and
// the document. `cache` (optional) carries parsed files from one load to the next.
absl::StatusOr<std::map<std::string, CacheSnapshotPtr>> loadDirectory(const std::string& dir,
                                                                      ParsedFiles* cache = nullptr);

class FileSource {
 public:
  FileSource(std::string dir, SnapshotCache& cache) : dir_(std::move(dir)), cache_(cache) {}

  // Loads now; on error the cache keeps what it had.
  absl::Status reload();
  // Watches the directory tree on `loop`; reloads `debounce` after the last change, and at
  // most `max_delay` after the first of a burst.
  void watch(uv_loop_t* loop, config::Duration debounce, config::Duration max_delay);
  void close();
  uint64_t reloads() const { return reloads_; }
  uint64_t reloadErrors() const { return reload_errors_; }

 private:
  static void onEvent(uv_fs_event_t* handle, const char* filename, int events, int status);
  static void onTimer(uv_timer_t* timer);
  void rewatch();

  std::string dir_;
  SnapshotCache& cache_;
  ParsedFiles parsed_;
  uv_loop_t* loop_ = nullptr;
  uv_timer_t timer_;
  std::map<std::string, uv_fs_event_t*> watches_;  // by directory
  config::Duration debounce_{20};
  config::Duration max_delay_{100};
  uint64_t burst_start_ = 0;
  bool pending_ = false;
  uint64_t reloads_ = 0;
  uint64_t reload_errors_ = 0;
};

}  // namespace remora::xds
