// GET /v1/instances/NAME/export and POST /v1/instances/import: an instance's backup out and in
// (docs/daemon/backup.md). The export is built in an unlinked file in the state directory, then
// streamed with its size in X-Vessel-Archive-Size; the import reads a file on vesseld's host
// ({"path": ...}, the host path policy applies) or the request's body (a tar, at most
// --max-archive-bytes), with ?progress=1 as JSON lines like an image import. /v1/backups: the
// schedules (backup_scheduler.h) and the archives they wrote.
#include <fcntl.h>
#include <sys/stat.h>

#include <memory>

#include "daemon/api/progress_stream.h"
#include "daemon/api/router.h"
#include "daemon/images/tar_reader.h"
#include "files/tar_unpack.h"

namespace vessel::daemon {

namespace {

// Progress as JSON lines, about one per percent (a file of many GiB would otherwise send
// thousands).
BackupProgress throttled(const PushStep& push, std::string step) {
  auto last = std::make_shared<uint64_t>(0);
  return [push, step = std::move(step), last](uint64_t done, uint64_t total) {
    if (done != total && done - *last < std::max<uint64_t>(total / 100, 1 << 20)) return;
    *last = done;
    push(json::Json{{"progress", step}, {"done", done}, {"total", total}});
  };
}

}  // namespace

bool Api::is_import_upload(const http::Request& r) { return r.method == "POST" && r.path == "/v1/instances/import"; }

http::Response Api::export_instance(const http::Request& r, const std::string& name) {
  if (r.method != "GET") return error_response(Error(EINVAL, fmt::format("{} is not allowed on {}", r.method, r.path)), 405);
  BackupExportOptions options;
  options.with_state = r.query_flag("with_state");
  std::string compress = r.query_arg("compress");
  if (compress == "zstd") options.zstd = true;
  else if (!compress.empty() && compress != "none")
    return error_response(Error(EINVAL, fmt::format("compress={}: expected zstd or none", compress.substr(0, 40))), 400);
  auto file = Fd::open(manager_.config().state_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (!file) return error_response(file.error());
  auto done = manager_.export_instance(name, options, file->get());
  if (!done) return error_response(done.error());
  struct stat st;
  if (::fstat(file->get(), &st) != 0) return error_response(Error::from_errno("fstat the export"));
  auto stream = stream_from_start(std::move(*file));
  if (!stream) return error_response(stream.error());
  http::Response resp;
  resp.content_type = options.zstd ? "application/zstd" : "application/x-tar";
  resp.headers["X-Vessel-Archive-Size"] = std::to_string(st.st_size);
  resp.headers["X-Vessel-Export"] = json::dump(*done);
  resp.stream = std::move(*stream);
  return resp;
}

http::Response Api::import_instance(const http::Request& r, Role role) {
  BackupImportOptions options;
  options.name = r.query_arg("name");
  options.network = r.query_arg("network");
  options.admin = role == Role::Admin;
  if (!options.name.empty())
    if (auto valid = validate_name(options.name); !valid) return error_response(valid.error(), 400);
  // The archive: a host file named in a JSON body, or the body itself.
  std::string path;
  auto type = r.headers.find("content-type");
  if (type != r.headers.end() && type->second.rfind("application/json", 0) == 0) {
    auto body = json::parse(r.body, 1 << 16);
    if (!body || !body->is_object()) return error_response(Error(EINVAL, "import: expected {\"path\": FILE}"), 400);
    auto named = json::get_string(*body, "import", "path");
    if (!named) return error_response(named.error(), 400);
    auto admitted = host_paths_.admit(*named, role, "import.path");
    if (!admitted) return error_response(admitted.error());
    path = *admitted;
  } else if (r.body.empty()) {
    return error_response(Error(EINVAL, "import: the body is empty").with_hint("send the archive, or {\"path\": FILE}"), 400);
  }
  auto body = path.empty() ? std::make_shared<const std::string>(r.body) : nullptr;
  auto work = [this, options, path, body](const PushStep& push) -> Result<json::Json> {
    BackupProgress progress = push ? throttled(push, "import") : BackupProgress{};
    if (!path.empty()) {
      auto in = TRY(open_tar(path));
      return manager_.import_instance(in.get(), options, progress);
    }
    auto in = TRY(files::open_tar_memory(*body));
    return manager_.import_instance(in.get(), options, progress);
  };
  if (r.query_flag("progress")) return progress_stream(work, "the import of a backup");
  auto imported = work(nullptr);
  if (!imported) return error_response(imported.error());
  return http::Response::json(201, json::dump(*imported) + "\n");
}

http::Response Api::backup_route(const http::Request& r, Role role, const std::vector<std::string>& parts,
                                 std::string& label) {
  auto answer = [](const Result<json::Json>& j, int status = 200) {
    return j ? http::Response::json(status, json::dump(*j) + "\n") : error_response(j.error());
  };
  auto not_allowed = [&] { return error_response(Error(EINVAL, fmt::format("{} is not allowed on {}", r.method, r.path)), 405); };
  if (!backups_) return error_response(Error(ENOENT, "this vesseld has no backup schedules"));
  if (parts.size() == 2) {
    label = "GET /v1/backups";
    if (r.method != "GET") return not_allowed();
    std::string name = r.query_arg("instance");
    if (!name.empty())
      if (auto valid = validate_name(name); !valid) return error_response(valid.error(), 400);
    return answer(backups_->backups(name));
  }
  if (parts[2] != "schedules" || parts.size() > 4) return error_response(Error(ENOENT, fmt::format("no such endpoint: {}", r.path)));
  if (parts.size() == 3) {
    label = "GET /v1/backups/schedules";
    if (r.method != "GET") return not_allowed();
    return answer(backups_->list());
  }
  const std::string& name = parts[3];
  if (auto valid = validate_name(name); !valid) return error_response(valid.error(), 400);
  if (r.method == "PUT") {
    label = "PUT /v1/backups/schedules/{name}";
    auto spec = parse_backup_schedule_text(r.body);
    if (!spec) return error_response(spec.error(), 400);
    auto dir = host_paths_.admit(spec->dir, role, "schedule.dir");
    if (!dir) return error_response(dir.error());
    spec->dir = *dir;
    if (spec->with_state && role != Role::Admin)
      return error_response(Error(EPERM, "only an admin may schedule backups with a saved state"));
    auto instance = manager_.get(name);  // a clear 404 before the store's foreign key
    if (!instance) return error_response(instance.error());
    return answer(backups_->set(name, *spec));
  }
  if (r.method == "DELETE") {
    label = "DELETE /v1/backups/schedules/{name}";
    auto removed = backups_->remove(name);
    return removed ? http::Response::no_content() : error_response(removed.error());
  }
  return not_allowed();
}

}  // namespace vessel::daemon
