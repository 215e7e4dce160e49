// Directory loading and watching.
#include "xds/server/file_source.h"

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "proxy/common/log.h"
#include "proxy/common/strings.h"
#include "xds/common/load.h"

namespace remora::xds {
namespace fs = std::filesystem;
namespace {

bool isResourceFile(const fs::path& p) {
  std::string ext = p.extension().string();
  std::string name = p.filename().string();
  return !name.starts_with(".") && (ext == ".yaml" || ext == ".yml" || ext == ".json");
}

std::vector<fs::path> filesIn(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.is_regular_file() && isResourceFile(e.path())) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

absl::Status parseFile(const fs::path& file, ParsedFile* out) {
  auto text = readFile(file.string());
  if (!text.ok()) return text.status();
  auto docs = documentsAsJson(*text);
  if (!docs.ok())
    return absl::InvalidArgumentError(cat(file.string(), ": ", docs.status().message()));
  out->documents.clear();
  for (size_t i = 0; i < docs->size(); ++i) {
    google::protobuf::Any any;
    auto st = parseJson((*docs)[i], &any);
    if (!st.ok()) {
      return absl::InvalidArgumentError(
          cat(file.string(), " document ", i + 1, ": ", st.message()));
    }
    std::string name, version, error;
    if (!describeResource(any, &name, &version, &error)) {
      return absl::InvalidArgumentError(cat(file.string(), " document ", i + 1, ": ", error));
    }
    out->documents.push_back(std::make_shared<const google::protobuf::Any>(std::move(any)));
    out->names.push_back(std::move(name));
    out->versions.push_back(std::move(version));
  }
  return absl::OkStatus();
}

absl::Status addFile(const fs::path& file, CacheSnapshot* snap, ParsedFiles* cache,
                     ParsedFiles* seen) {
  std::error_code ec;
  auto size = fs::file_size(file, ec);
  auto mtime = fs::last_write_time(file, ec).time_since_epoch().count();
  std::string key = file.string();
  std::shared_ptr<const ParsedFile> parsed;
  if (auto it = cache->find(key);
      it != cache->end() && it->second->size == size && it->second->mtime_ns == mtime) {
    parsed = it->second;
  } else {
    auto fresh = std::make_shared<ParsedFile>();
    fresh->size = size;
    fresh->mtime_ns = mtime;
    if (auto s = parseFile(file, fresh.get()); !s.ok()) return s;
    parsed = std::move(fresh);
  }
  for (size_t i = 0; i < parsed->documents.size(); ++i) {
    snap->add(parsed->documents[i], parsed->names[i], parsed->versions[i]);
  }
  (*seen)[key] = std::move(parsed);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::map<std::string, CacheSnapshotPtr>> loadDirectory(const std::string& dir,
                                                                      ParsedFiles* cache) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return absl::NotFoundError(cat(dir, " is not a directory"));
  ParsedFiles none, seen;
  if (cache == nullptr) cache = &none;
  CacheSnapshot global;
  for (const auto& f : filesIn(dir)) {
    if (auto s = addFile(f, &global, cache, &seen); !s.ok()) return s;
  }
  std::map<std::string, CacheSnapshotPtr> out;
  fs::path nodes = fs::path(dir) / "nodes";
  for (const auto& e : fs::directory_iterator(nodes, ec)) {
    if (!e.is_directory()) continue;
    CacheSnapshot node = global;  // node-specific documents replace same-named global ones
    for (const auto& f : filesIn(e.path())) {
      if (auto s = addFile(f, &node, cache, &seen); !s.ok()) return s;
    }
    node.seal();
    out[e.path().filename().string()] = std::make_shared<CacheSnapshot>(std::move(node));
  }
  global.seal();
  out[""] = std::make_shared<CacheSnapshot>(std::move(global));
  *cache = std::move(seen);  // files that went away drop out
  return out;
}

absl::Status FileSource::reload() {
  REMORA_LOG(Debug, "config %s changed: reloading", dir_);
  auto start = std::chrono::steady_clock::now();
  auto snaps = loadDirectory(dir_, &parsed_);
  if (!snaps.ok()) {
    ++reload_errors_;
    REMORA_LOG(Error, "config %s not applied: %s (still serving the previous version)", dir_,
               snaps.status().message());
    return snaps.status();
  }
  ++reloads_;
  size_t resources = 0;
  for (const auto& [type, r] : (*snaps)[""]->types) resources += r.items.size();
  size_t node_sets = snaps->size() - 1;
  cache_.setAll(std::move(*snaps));
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() -
                                                                  start)
                .count();
  REMORA_LOG(Info,
             "config %s loaded: %d resources for all nodes, %d node-specific sets (%d.%d ms with "
             "the pushes)",
             dir_, resources, node_sets, us / 1000, (us / 100) % 10);
  return absl::OkStatus();
}

void FileSource::watch(uv_loop_t* loop, config::Duration debounce, config::Duration max_delay) {
  loop_ = loop;
  debounce_ = debounce;
  max_delay_ = max_delay;
  uv_timer_init(loop_, &timer_);
  timer_.data = this;
  rewatch();
}

void FileSource::rewatch() {
  std::vector<std::string> dirs{dir_};
  std::error_code ec;
  fs::path nodes = fs::path(dir_) / "nodes";
  if (fs::is_directory(nodes, ec)) {
    dirs.push_back(nodes.string());
    for (const auto& e : fs::directory_iterator(nodes, ec)) {
      if (e.is_directory()) dirs.push_back(e.path().string());
    }
  }
  for (const auto& d : dirs) {
    if (watches_.count(d) != 0) continue;
    auto* h = new uv_fs_event_t;
    uv_fs_event_init(loop_, h);
    h->data = this;
    if (uv_fs_event_start(h, &FileSource::onEvent, d.c_str(), 0) != 0) {
      uv_close(reinterpret_cast<uv_handle_t*>(h),
               [](uv_handle_t* x) { delete reinterpret_cast<uv_fs_event_t*>(x); });
      continue;
    }
    watches_[d] = h;
  }
  // Directories that went away.
  for (auto it = watches_.begin(); it != watches_.end();) {
    if (!fs::is_directory(it->first, ec)) {
      uv_close(reinterpret_cast<uv_handle_t*>(it->second),
               [](uv_handle_t* x) { delete reinterpret_cast<uv_fs_event_t*>(x); });
      it = watches_.erase(it);
    } else {
      ++it;
    }
  }
}

void FileSource::onEvent(uv_fs_event_t* handle, const char*, int, int status) {
  auto* self = static_cast<FileSource*>(handle->data);
  if (status < 0) return;
  uint64_t now = uv_now(self->loop_);
  if (!self->pending_) {
    self->pending_ = true;
    self->burst_start_ = now;
  }
  uint64_t deadline =
      std::min(now + static_cast<uint64_t>(self->debounce_.count()),
               self->burst_start_ + static_cast<uint64_t>(self->max_delay_.count()));
  uv_timer_start(&self->timer_, &FileSource::onTimer, deadline > now ? deadline - now : 0, 0);
}

void FileSource::onTimer(uv_timer_t* timer) {
  auto* self = static_cast<FileSource*>(timer->data);
  self->pending_ = false;
  self->rewatch();
  (void)self->reload();  // errors are logged; the previous version keeps being served
}

void FileSource::close() {
  if (loop_ == nullptr) return;
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
  for (auto& [d, h] : watches_) {
    uv_close(reinterpret_cast<uv_handle_t*>(h),
             [](uv_handle_t* x) { delete reinterpret_cast<uv_fs_event_t*>(x); });
  }
  watches_.clear();
}

}  // namespace remora::xds
