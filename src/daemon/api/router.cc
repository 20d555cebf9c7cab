#include "daemon/api/router.h"

#include <fcntl.h>
#include <unistd.h>

#include <thread>

#include "base/version.h"
#include "base/log.h"
#include "base/log_stamp.h"
#include "daemon/api/forward.h"
#include "daemon/api/log_reader.h"
#include "daemon/api/log_view.h"
#include "daemon/api/progress_stream.h"
#include "daemon/api/requests.h"
#include "runtime/container.h"

namespace vessel::daemon {

namespace {

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> parts;
  size_t pos = 0;
  while (pos < path.size()) {
    size_t next = path.find('/', pos);
    if (next == std::string::npos) next = path.size();
    if (next > pos) parts.push_back(path.substr(pos, next - pos));
    pos = next + 1;
  }
  return parts;
}

http::Response method_not_allowed(const http::Request& r) {
  return Api::error_response(Error(EINVAL, fmt::format("{} is not allowed on {}", r.method, r.path)), 405);
}

}  // namespace

int http_status_for(const Error& error) {
  switch (error.errnum()) {
    case EINVAL: case E2BIG: case ENAMETOOLONG: case ERANGE: return 400;
    case EBADMSG: case EFBIG: return 400;  // a corrupt or oversized upload (a backup: docs/daemon/backup.md)
    case ENOTDIR: case EISDIR: return 400;  // vessel cp: a path of the wrong kind (docs/daemon/cp.md)
    case ENOENT: return 404;
    case EBUSY: case EEXIST: case EAGAIN: case ENODEV: return 409;
    case EPERM: return 403;  // the client's role or the host path policy (roles.h, host_paths.h)
    case ENOTSUP: return 501;
    case ENOSPC: case EDQUOT: return 507;
    case ETIMEDOUT: return 504;
    default: return 500;
  }
}

std::string Api::error_text(const Error& error) {
  // The errno's text only when a call reported it (base/error.h): an error vesseld raises about a
  // request (bad name, wrong state, no such instance) already says everything.
  return error.to_string();
}

// Error messages quote names from hostile input (a tar entry's bytes): json::dump never throws on
// invalid UTF-8 (it writes U+FFFD).
http::Response Api::ok(const json::Json& j, int status) { return http::Response::json(status, json::dump(j) + "\n"); }

http::Response Api::answer(const Result<json::Json>& j, int status) { return j ? ok(*j, status) : error_response(j.error()); }

http::Response Api::error_response(const Error& error, int status) {
  json::Json j = {{"error", error_text(error)}, {"errno", error.errnum()}};
  if (!error.hint().empty()) j["hint"] = error.hint();
  return http::Response::json(status ? status : http_status_for(error), json::dump(j) + "\n");
}

http::Response Api::handle(const http::Request& request, Role role) {
  auto begin = std::chrono::steady_clock::now();
  std::string label = request.method + " other";
  auto refused = refuse_unless(request, role);
  http::Response response = refused ? std::move(*refused) : route(request, role, label);
  metrics_.record(label, response.status, std::chrono::steady_clock::now() - begin);
  log::debug("{} {} -> {}", request.method, request.path, response.status);
  return response;
}

http::Response Api::route(const http::Request& r, Role role, std::string& label) {
  auto parts = split_path(r.path);
  if (r.path == "/metrics") {
    label = "GET /metrics";
    if (r.method != "GET") return method_not_allowed(r);
    http::Response resp;
    resp.content_type = "text/plain; version=0.0.4";
    resp.body = metrics_.render() + render_instance_metrics(manager_);
    return resp;
  }
  if (r.path == "/openapi.yaml" || r.path == "/v1/openapi.yaml") {
    label = "GET /openapi.yaml";
    auto text = read_file(openapi_path_);
    if (!text) return error_response(Error(ENOENT, "the API description is not installed here"));
    http::Response resp;
    resp.content_type = "application/yaml";
    resp.body = *text;
    return resp;
  }
  if (parts.empty() || parts[0] != "v1")
    return error_response(Error(ENOENT, fmt::format("no such endpoint: {}", r.path)).with_hint("the API lives under /v1 (see /openapi.yaml)"));
  if (parts.size() == 1 || parts[1] == "version") {
    label = "GET /v1";
    return ok({{"api", "v1"}, {"version", kVersion}});
  }
  if (parts[1] == "host" && parts.size() == 2) {
    label = "GET /v1/host";
    const auto& c = manager_.config();
    return ok({{"cpus", c.capacity.cpus}, {"memory_mib", c.capacity.memory_mib},
               {"cpu_overcommit", c.overcommit.cpu}, {"memory_overcommit", c.overcommit.memory}});
  }
  if (parts[1] == "events" && parts.size() == 2) {
    label = "GET /v1/events";
    if (r.method != "GET") return method_not_allowed(r);
    return events_stream(r);
  }
  if (parts[1] == "instances") return instance_route(r, role, parts, label);
  if (parts[1] == "images") return image_route(r, role, parts, label);
  if (parts[1] == "networks") return network_route(r, parts, label);
  if (parts[1] == "pools") return pool_route(r, parts, label);
  if (parts[1] == "volumes") return volume_route(r, parts, label);
  if (parts[1] == "build" && parts.size() == 2) return build_route(r, label);
  if (parts[1] == "policy") return policy_route(r, parts, label);
  if (parts[1] == "migrations") return migration_route(r, role, parts, label);
  if (parts[1] == "backups") return backup_route(r, role, parts, label);
  if (parts[1] == "cluster") return cluster_route(r, parts, label);
  return error_response(Error(ENOENT, fmt::format("no such endpoint: {}", r.path)));
}

http::Response Api::instance_route(const http::Request& r, Role role, const std::vector<std::string>& parts,
                                   std::string& label) {
  if (parts.size() == 2) {
    if (r.method == "GET") {
      label = "GET /v1/instances";
      auto list = manager_.list();
      if (list && cluster_) list = list_in_cluster(std::move(*list), was_forwarded(r));
      return list ? ok(*list) : error_response(list.error());
    }
    if (r.method == "POST") {
      label = "POST /v1/instances";
      if (r.query_flag("cluster")) return create_clustered(r, role);
      auto spec = parse_spec_text(r.body);
      if (!spec) return error_response(spec.error(), 400);
      if (auto allowed = host_paths_.admit(*spec, role); !allowed) return error_response(allowed.error());
      // A run that cannot start here leaves nothing behind: no instance, no reserved capacity.
      if (r.query_flag("start"))
        if (auto can = manager_.preflight(*spec); !can) return error_response(can.error());
      // hold=1: the client waits next; a --rm instance stays until that wait has answered.
      auto created = r.query_flag("start") ? manager_.run(*spec, r.query_flag("hold")) : manager_.create(*spec);
      if (!created) return error_response(created.error());
      return ok(*created, 201);
    }
    return method_not_allowed(r);
  }
  if (parts.size() == 3 && parts[2] == "import" && r.method == "POST") {
    label = "POST /v1/instances/import";
    return import_instance(r, role);
  }
  const std::string& name = parts[2];
  if (auto valid = validate_name(name); !valid) return error_response(valid.error(), 400);
  if (cluster_ && !was_forwarded(r) && parts.size() <= 4)  // docs/cluster.md#forwarding
    if (auto clustered = clustered_instance(r, parts, label)) return std::move(*clustered);
  if (parts.size() == 3) {
    if (r.method == "GET") {
      label = "GET /v1/instances/{name}";
      auto j = manager_.get(name);
      return answer(cluster_ ? get_in_cluster(name, std::move(j)) : std::move(j));
    }
    if (r.method == "DELETE") {
      label = "DELETE /v1/instances/{name}";
      if (cluster_)
        if (auto clustered = remove_clustered(name)) return std::move(*clustered);
      auto removed = r.query_flag("volumes") ? manager_.remove_with_volumes(name, r.query_flag("force"))
                                             : manager_.remove(name, r.query_flag("force"));
      return removed ? http::Response::no_content() : error_response(removed.error());
    }
    return method_not_allowed(r);
  }
  if (parts.size() >= 4 && parts.size() <= 6 && parts[3] == "snapshots") return snapshot_route(r, name, parts, label);
  if (parts.size() != 4) return error_response(Error(ENOENT, fmt::format("no such endpoint: {}", r.path)));
  const std::string& verb = parts[3];
  if (verb == "logs") {
    label = "GET /v1/instances/{name}/logs";
    if (r.method != "GET") return method_not_allowed(r);
    return logs(r, name);
  }
  if (verb == "console") {
    label = "GET /v1/instances/{name}/console";
    if (r.method != "GET") return method_not_allowed(r);
    return console(r, name);
  }
  if (verb == "resize") {
    label = "POST /v1/instances/{name}/resize";
    if (r.method != "POST") return method_not_allowed(r);
    return resize(r, name);
  }
  if (verb == "exec" && r.method == "POST" && is_upgrade(r)) {
    label = "POST /v1/instances/{name}/exec (stream)";
    return exec_stream(r, name);
  }
  if (verb == "wait") {
    label = "GET /v1/instances/{name}/wait";
    if (r.method != "GET" && r.method != "POST") return method_not_allowed(r);
    return wait_stream(name);
  }
  if (verb == "archive") {
    label = r.method + " /v1/instances/{name}/archive";
    if (r.method != "GET" && r.method != "HEAD" && r.method != "PUT") return method_not_allowed(r);
    return archive(r, name);
  }
  if (verb == "export") {
    label = "GET /v1/instances/{name}/export";
    return export_instance(r, name);
  }
  if (verb == "stats") {
    label = "GET /v1/instances/{name}/stats";
    auto s = manager_.stats(name);
    return s ? ok(*s) : error_response(s.error());
  }
  if (verb == "migrate") {
    label = "POST /v1/instances/{name}/migrate";
    return migrate(r, role, name);
  }
  if (r.method != "POST") return method_not_allowed(r);
  label = "POST /v1/instances/{name}/" + (verb.size() < 16 ? verb : std::string("?"));
  if (verb == "kill") {  // Docker's POST /containers/{id}/kill?signal=SIGINT (default KILL)
    std::string text = r.query_arg("signal").empty() ? "KILL" : r.query_arg("signal");
    auto sig = runtime::parse_signal(text);
    if (!sig) return error_response(sig.error().add_context("kill.signal"), 400);
    auto killed = manager_.kill(name, *sig);
    return killed ? ok(*killed) : error_response(killed.error());
  }
  if (verb == "exec") {
    auto req = parse_exec_request(r.body);
    if (!req) return error_response(req.error(), 400);
    auto result = manager_.exec(name, req->command);
    if (!result) return error_response(result.error());
    return ok({{"exit_code", result->exit_code}, {"output", result->output}});
  }
  auto action = parse_action(verb);
  if (!action || *action == Action::Delete)
    return error_response(Error(ENOENT, fmt::format("no such action: {}", verb)).with_hint("start, stop, restart, pause, resume, suspend, checkpoint, restore, exec, kill"));
  ActOptions options;
  if (*action == Action::Stop || *action == Action::Restart) {
    auto req = parse_stop_request(r.body);
    if (!req) return error_response(req.error(), 400);
    options.timeout_s = req->timeout_s;
    options.force = req->force;
  } else if (*action == Action::Checkpoint) {
    auto req = parse_checkpoint_request(r.body);
    if (!req) return error_response(req.error(), 400);
    options.leave_running = req->leave_running;
    if (!req->export_path.empty()) {
      auto path = host_paths_.admit(req->export_path, role, "checkpoint.export");
      if (!path) return error_response(path.error());
      options.export_path = *path;
    }
  } else if (*action == Action::Restore) {
    auto req = parse_restore_request(r.body);
    if (!req) return error_response(req.error(), 400);
    if (!req->import_path.empty()) {
      // CRIU acts on its images as root (credentials, namespaces, mounts): only an admin may
      // hand vesseld images it did not make itself.
      if (role != Role::Admin)
        return error_response(Error(EPERM, "restore.import: only an admin may restore an imported checkpoint")
                                  .with_hint("CRIU restores whatever the images say, as root"));
      auto path = host_paths_.admit(req->import_path, role, "restore.import");
      if (!path) return error_response(path.error());
      options.import_path = *path;
    }
  } else if (!r.body.empty() && r.body != "{}") {
    return error_response(Error(EINVAL, fmt::format("{} takes no body", verb)), 400);
  }
  auto result = manager_.act(name, *action, options);
  if (!result) {
    auto resp = error_response(result.error());
    if (resp.status == 409) {  // say the current state
      auto cur = manager_.get(name);
      if (cur) {
        auto j = json::parse(resp.body).value_or(json::Json::object());
        j["state"] = (*cur)["state"];
        resp.body = json::dump(j) + "\n";
      }
    }
    return resp;
  }
  return ok(*result);
}

http::Response Api::image_route(const http::Request& r, Role role, const std::vector<std::string>& parts,
                                std::string& label) {
  if (parts.size() == 2) {
    if (r.method == "GET") {
      label = "GET /v1/images";
      auto list = images_.list();
      return list ? ok(*list) : error_response(list.error());
    }
    if (r.method == "POST") {
      label = "POST /v1/images";
      auto req = parse_image_request(r.body);
      if (!req) return error_response(req.error(), 400);
      if (auto allowed = host_paths_.admit(*req, role); !allowed) return error_response(allowed.error());
      if (req->type == "vm" && !r.query_flag("progress")) {
        auto j = images_.register_vm(req->name, req->kernel, req->initramfs, req->cmdline, req->disks);
        return answer(j, 201);
      }
      if (!r.query_flag("progress")) {
        auto j = images_.import_archive(req->name, req->archive, [](const ImportProgress&) {});
        return answer(j, 201);
      }
      // Streamed: JSON lines of progress, then {"result": ...} or {"error": ...}.
      return progress_stream(
          [this, req = *req](const PushStep& push) {
            auto progress = [&](const ImportProgress& p) {
              push(json::Json{{"progress", p.step}, {"done", p.done}, {"total", p.total}});
            };
            return req.type == "vm"
                       ? images_.register_vm(req.name, req.kernel, req.initramfs, req.cmdline, req.disks, progress)
                       : images_.import_archive(req.name, req.archive, progress);
          },
          fmt::format("the import of image {}", req->name.empty() ? req->archive : req->name));
    }
    return method_not_allowed(r);
  }
  if (parts.size() == 3 && r.method == "POST" && (parts[2] == "pull" || parts[2] == "push" || parts[2] == "save" || parts[2] == "login" ||
                                                   parts[2] == "tag"))
    return registry_route(r, parts[2], label);
  // An image's name may be a reference with slashes (localhost:5000/team/app:1.0).
  std::string name = parts[2];
  for (size_t i = 3; i < parts.size(); ++i) name += "/" + parts[i];
  if (r.method == "GET") {
    label = "GET /v1/images/{name}";
    auto j = images_.inspect(name);
    return answer(j);
  }
  if (r.method == "DELETE") {
    label = "DELETE /v1/images/{name}";
    auto removed = images_.remove(name);
    return removed ? http::Response::no_content() : error_response(removed.error());
  }
  return method_not_allowed(r);
}

// The last `tail` lines the query shows of what the log holds now (read to its current end).
static std::string tail_of_log(RotatedLogReader& reader, LogLineFilter& filter, uint64_t tail) {
  std::string shown, raw;
  for (;;) {
    raw.clear();
    if (reader.read(raw) > 0) {
      filter.feed(raw, shown);
      if (shown.size() > (4u << 20)) shown = std::string(last_lines(shown, tail));  // keep memory bounded
      continue;
    }
    if (!reader.follow_rotation()) break;
  }
  return std::string(last_lines(shown, tail));
}

http::Response Api::logs(const http::Request& r, const std::string& name) {
  auto query = parse_log_query(r);
  if (!query) return error_response(query.error(), 400);
  auto path = manager_.log_path(name);
  if (!path) return error_response(path.error());
  auto reader = std::make_shared<RotatedLogReader>(*path);
  auto filter = std::make_shared<LogLineFilter>(*query);
  http::Response resp;
  resp.content_type = "text/plain";
  Manager* manager = &manager_;
  EventBus* events = &events_;
  auto last = std::make_shared<bool>(false);
  auto tailed = std::make_shared<bool>(!query->tail);
  resp.stream = [reader, filter, q = *query, name, manager, events, last, tailed](std::string& out) {
    if (!*tailed) {
      *tailed = true;
      out = tail_of_log(*reader, *filter, *q.tail);
      if (!out.empty()) return true;
    }
    std::string raw;
    for (;;) {
      raw.clear();
      if (reader->read(raw) > 0) {
        filter->feed(raw, out);
        if (filter->past_until()) return false;  // stamped in order: nothing later can show
        if (!out.empty()) return true;
        continue;
      }
      if (reader->follow_rotation()) continue;  // the writer started a new file
      bool ended = !q.follow || events->stopped() || (q.until_ns && unix_now_ns() > *q.until_ns);
      // At the end: wait for more while the guest runs; one last pass after it stops.
      if (!ended && !manager->active(name)) {
        ended = *last;
        *last = true;
        if (!ended) continue;
      }
      if (ended) {
        filter->finish(out);
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  };
  return resp;
}

http::Response Api::events_stream(const http::Request&) {
  http::Response resp;
  resp.content_type = "application/x-ndjson";
  auto from = std::make_shared<uint64_t>(events_.next_seq());
  auto quiet = std::make_shared<int>(0);
  EventBus* events = &events_;
  resp.stream = [from, quiet, events](std::string& out) {
    // Blocks in short slices so that a daemon shutdown ends the stream promptly; an empty line
    // every 2 s of silence lets a gone client be noticed (and clients skip empty lines).
    out += events->wait(*from, 500);
    if (!out.empty()) *quiet = 0;
    else if (++*quiet >= 4) {
      *quiet = 0;
      out += "\n";
    }
    return !events->stopped();
  };
  return resp;
}

}  // namespace vessel::daemon
