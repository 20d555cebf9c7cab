// export, import: an instance's backup as one archive file; backup schedule|ls: backups taken by
// vesseld on a timer, with retention (docs/daemon/backup.md).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <ctime>
#include <filesystem>

#include "base/fd.h"
#include "cli/commands.h"
#include "cli/format.h"
#include "cli/local_path.h"
#include "cli/progress_lines.h"
#include "cli/recovery_flags.h"

namespace vessel::cli {

namespace {

struct ExportFlags {
  std::string name, output, compress = "none";
  bool with_state = false, json = false, quiet = false;
};

struct ImportFlags {
  std::string file, name, network;
  bool json = false, quiet = false;
};

// The archive goes to a temporary file beside the output, renamed over it once whole: a failed
// export leaves no partial file behind.
class OutputFile {
 public:
  static Result<OutputFile> create(const std::string& path) {
    OutputFile out;
    out.path_ = path;
    if (path == "-") {
      out.fd_ = Fd(::dup(1));
      return out;
    }
    out.tmp_ = path + ".partial-XXXXXX";
    int fd = ::mkstemp(out.tmp_.data());
    if (fd < 0) return fail_errno("create {}", out.tmp_);
    out.fd_ = Fd(fd);
    return out;
  }
  OutputFile() = default;
  OutputFile(OutputFile&&) = default;
  ~OutputFile() {
    if (!tmp_.empty() && !kept_) ::unlink(tmp_.c_str());
  }
  Result<void> write(std::string_view data) {
    for (size_t off = 0; off < data.size();) {
      ssize_t n = ::write(fd_.get(), data.data() + off, data.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return fail_errno("write {}", path_);
      off += static_cast<size_t>(n);
    }
    return {};
  }
  Result<void> keep() {
    if (tmp_.empty()) return {};
    if (::fsync(fd_.get()) != 0) return fail_errno("fsync {}", tmp_);
    ::fchmod(fd_.get(), 0600);  // it holds every file of the instance
    if (::rename(tmp_.c_str(), path_.c_str()) != 0) return fail_errno("rename {} to {}", tmp_, path_);
    kept_ = true;
    return {};
  }

 private:
  std::string path_, tmp_;
  Fd fd_;
  bool kept_ = false;
};

Result<json::Json> export_instance(Context& ctx, const ExportFlags& f) {
  std::string output = f.output;
  if (output.empty()) {
    if (::isatty(1)) return Unexpected(Error(EINVAL, "refusing to write an archive to a terminal").with_hint("pass -o FILE"));
    output = "-";
  }
  auto out = TRY(OutputFile::create(output));
  std::string url = "/v1/instances/" + escape_segment(f.name) + "/export?compress=" + f.compress;
  if (f.with_state) url += "&with_state=1";
  bool bar = !f.quiet && ::isatty(2);
  uint64_t got = 0, shown = 0;
  std::optional<Error> write_error;
  auto answer = ctx.client().exchange("GET", url, "", "application/json", [&](std::string_view data) {
    if (auto w = out.write(data); !w) {
      write_error = w.error();
      return false;
    }
    got += data.size();
    if (bar && got >= shown + (16 << 20)) {
      shown = got;
      fmt::print(stderr, "\rExporting {} {}   ", f.name, human_bytes(got));
    }
    return true;
  });
  if (bar && shown) fmt::print(stderr, "\r\033[K");
  if (write_error) return Unexpected(*write_error);  // it ended the transfer
  auto r = TRY(std::move(answer));
  if (r.status >= 400) return Unexpected(error_from_response(r.status, r.body));
  auto size = r.headers.find("x-vessel-archive-size");
  if (size != r.headers.end() && size->second != std::to_string(got))
    return fail(EIO, "the export ended after {} of its {} bytes", got, size->second);
  TRY(out.keep());
  json::Json done = json::Json::object();
  if (auto it = r.headers.find("x-vessel-export"); it != r.headers.end()) done = json::parse(it->second).value_or(done);
  done["file"] = output;
  done["archive_bytes"] = got;
  return done;
}

Result<json::Json> import_instance(Context& ctx, const ImportFlags& f) {
  std::string url = "/v1/instances/import?progress=1";
  if (!f.name.empty()) url += "&name=" + escape_segment(f.name);
  if (!f.network.empty()) url += "&network=" + escape_segment(f.network);
  ProgressLines lines(!f.quiet && ::isatty(2));
  auto on_data = [&](std::string_view d) { return lines.feed(d); };
  http::ClientResponse r;
  if (ctx.remote.url.empty()) {
    // On this host vesseld reads the file itself: no copy through the socket, no size limit.
    std::string path = absolute_path(f.file);
    if (::access(path.c_str(), R_OK) != 0) return fail_errno("{}", f.file);
    r = TRY(ctx.client().exchange("POST", url, json::Json{{"path", path}}.dump(), "application/json", on_data));
  } else {
    auto body = TRY(read_file(f.file));
    r = TRY(ctx.client().exchange("POST", url, body, "application/x-tar", on_data));
  }
  if (r.status >= 400) return Unexpected(error_from_response(r.status, r.body));
  return lines.finish();
}

struct ScheduleFlags {
  std::string name, every, dir, compress = "none";
  uint32_t keep = 0;
  bool with_state = false;
};

// --every: a duration as for --health-interval (30s, 15m, 1h30m), or whole days (7d).
Result<uint64_t> every_seconds(const std::string& text) {
  uint64_t days = 0;
  if (text.size() > 1 && text.back() == 'd' && text.find_first_not_of("0123456789") == text.size() - 1) {
    days = std::stoull(text.substr(0, text.size() - 1));
    if (days > 366) return fail(EINVAL, "--every: at most 366 days");
    return days * 86400;
  }
  uint64_t ms = TRY_CTX(parse_duration_ms(text), "--every");
  if (ms < 1000) return fail(EINVAL, "--every: at least 1s");
  return ms / 1000;
}

std::string every_text(uint64_t s) {
  if (s % 86400 == 0) return fmt::format("{}d", s / 86400);
  if (s % 3600 == 0) return fmt::format("{}h", s / 3600);
  if (s % 60 == 0) return fmt::format("{}m", s / 60);
  return fmt::format("{}s", s);
}

std::string when(int64_t t) {
  if (t == 0) return "never";
  std::time_t tt = t;
  std::tm tm{};
  ::gmtime_r(&tt, &tm);
  char out[32];
  std::strftime(out, sizeof out, "%Y-%m-%d %H:%M:%SZ", &tm);
  return out;
}

void add_schedule_commands(CLI::App* backup, Context& ctx) {
  auto f = std::make_shared<ScheduleFlags>();
  auto* c = backup->add_subcommand("schedule", "have vesseld export an instance every DURATION into DIR, keeping the "
                                               "newest N archives; `schedule ls`, `schedule rm NAME`");
  c->footer("Examples:\n"
            "  vessel backup schedule web --every 1h --keep 24 --dir /var/backups/vessel\n"
            "  vessel backup schedule ls; vessel backup ls web; vessel backup schedule rm web\n"
            "The first backup is taken at once; archives are DIR/NAME-YYYYMMDDTHHMMSSZ.tar. A run that fails\n"
            "(a running VM, a full disk) is recorded (schedule ls: LAST ERROR) and tried again next time.");
  c->add_option("name", f->name, "the instance");
  c->add_option("--every", f->every, "how often: 30s, 15m, 1h, 7d");
  c->add_option("--keep", f->keep, "how many archives to keep (older ones are removed)");
  c->add_option("--dir", f->dir, "where the archives go (on vesseld's host; made if missing)");
  c->add_flag("--with-state", f->with_state, "carry a checkpointed container's or a suspended VM's saved state (as export --with-state)");
  c->add_option("--compress", f->compress, "zstd or none")->check(CLI::IsMember({"zstd", "none"}))->capture_default_str();
  auto* ls = c->add_subcommand("ls", "list the backup schedules");
  auto as_json = std::make_shared<bool>(false);
  ls->add_flag("--json", *as_json, "print JSON");
  ls->callback([&ctx, as_json] {
    auto r = ctx.client().call("GET", "/v1/backups/schedules");
    if (!r) { ctx.status = report(r.error()); return; }
    if (*as_json) { fmt::print("{}\n", r->dump(2)); return; }
    std::vector<std::vector<std::string>> rows;
    for (const auto& s : *r)
      rows.push_back({s.value("instance", ""), every_text(s.value("every_s", uint64_t{0})),
                      std::to_string(s.value("keep", 0)), s.value("dir", ""), when(s.value("last_run", int64_t{0})),
                      s.value("last_error", "")});
    fmt::print("{}", render_table({"INSTANCE", "EVERY", "KEEP", "DIR", "LAST RUN", "LAST ERROR"}, rows));
  });
  auto names = std::make_shared<std::vector<std::string>>();
  auto* rm = c->add_subcommand("rm", "remove backup schedules (their archives stay)");
  rm->add_option("names", *names, "instances")->required();
  rm->callback([&ctx, names] {
    for (const auto& n : *names) {
      auto r = ctx.client().call("DELETE", "/v1/backups/schedules/" + escape_segment(n));
      if (!r) ctx.status = report(r.error());
      else fmt::print("{}\n", n);
    }
  });
  c->callback([&ctx, c, f] {
    if (c->got_subcommand("ls") || c->got_subcommand("rm")) return;
    if (f->name.empty() || f->every.empty() || f->keep == 0 || f->dir.empty()) {
      ctx.status = report(Error(EINVAL, "vessel backup schedule NAME --every DURATION --keep N --dir DIR")
                              .with_hint("see `vessel backup schedule --help`"));
      return;
    }
    auto every = every_seconds(f->every);
    if (!every) { ctx.status = report(every.error()); return; }
    json::Json body = {{"every_s", *every}, {"keep", f->keep}, {"dir", absolute_path(f->dir)},
                       {"with_state", f->with_state}, {"compress", f->compress}};
    auto r = ctx.client().call("PUT", "/v1/backups/schedules/" + escape_segment(f->name), body);
    if (!r) { ctx.status = report(r.error()); return; }
    fmt::print("{}: every {}, keeping {} in {}\n", f->name, every_text(*every), f->keep, r->value("dir", ""));
  });
}

}  // namespace

void add_backup_commands(CLI::App& app, Context& ctx) {
  {
    auto f = std::make_shared<ExportFlags>();
    auto* c = app.add_subcommand("export", "write an instance's backup (its spec, disks or file changes, optionally "
                                           "its saved state) to one archive; `vessel import` brings it back, here or "
                                           "on another host");
    c->footer("Examples:\n"
              "  vessel export web -o web.tar\n"
              "  vessel checkpoint db && vessel export db --with-state --compress zstd -o db.tar.zst\n"
              "A running container is frozen while its changes are packed; a running VM is refused (stop it first).\n"
              "The image is named (with its digest), not carried: import it on the destination first.\n"
              "See docs/daemon/backup.md.");
    c->add_option("name", f->name, "the instance")->required();
    c->add_option("--output,-o", f->output, "the archive file (default: standard output, unless it is a terminal)");
    c->add_flag("--with-state,--memory", f->with_state,
                "also carry the saved state: a checkpointed container's CRIU images or a suspended VM's snapshot and memory, so it resumes where it was");
    c->add_option("--compress", f->compress, "zstd or none")->check(CLI::IsMember({"zstd", "none"}))->capture_default_str();
    c->add_flag("--json", f->json, "print what was written as JSON");
    c->add_flag("--quiet,-q", f->quiet, "no progress and no summary");
    c->callback([&ctx, f] {
      auto done = export_instance(ctx, *f);
      if (!done) { ctx.status = report(done.error()); return; }
      if (f->json) fmt::print("{}\n", done->dump(2));
      else if (!f->quiet)
        fmt::print(stderr, "exported {} to {} ({} files, {})\n", f->name, f->output.empty() ? "standard output" : f->output,
                   done->value("files", json::Json::array()).size(), human_bytes(done->value("archive_bytes", uint64_t{0})));
    });
  }
  {
    auto f = std::make_shared<ImportFlags>();
    auto* c = app.add_subcommand("import", "make an instance from a backup written by `vessel export`; everything is "
                                           "verified first, and a bad archive leaves nothing behind");
    c->footer("Examples:\n"
              "  vessel import web.tar\n"
              "  vessel import web.tar --name web2 --network none && vessel start web2\n"
              "The instance is created (or checkpointed, with its saved state: `vessel restore` it). Its image must\n"
              "be here, with the digest it had. See docs/daemon/backup.md.");
    c->add_option("file", f->file, "the archive")->required();
    c->add_option("--name", f->name, "the new instance's name (default: the exported one's)");
    c->add_option("--network", f->network, "its network here instead of the exported one's (none, host, a name)");
    c->add_flag("--json", f->json, "print the new instance as JSON");
    c->add_flag("--quiet,-q", f->quiet, "no progress bar");
    c->callback([&ctx, f] {
      auto done = import_instance(ctx, *f);
      if (!done) { ctx.status = report(done.error()); return; }
      if (f->json) fmt::print("{}\n", done->dump(2));
      else fmt::print("{}\n", done->value("name", ""));
    });
  }
  auto* backup = app.add_subcommand("backup", "backups taken by vesseld on a schedule: schedule, ls");
  backup->require_subcommand(1);
  add_schedule_commands(backup, ctx);
  {
    auto name = std::make_shared<std::string>();
    auto as_json = std::make_shared<bool>(false);
    auto* c = backup->add_subcommand("ls", "list the archives the schedules wrote, newest first");
    c->add_option("name", *name, "only this instance's");
    c->add_flag("--json", *as_json, "print JSON");
    c->callback([&ctx, name, as_json] {
      std::string url = "/v1/backups";
      if (!name->empty()) url += "?instance=" + escape_segment(*name);
      auto r = ctx.client().call("GET", url);
      if (!r) { ctx.status = report(r.error()); return; }
      if (*as_json) { fmt::print("{}\n", r->dump(2)); return; }
      std::vector<std::vector<std::string>> rows;
      for (const auto& b : *r)
        rows.push_back({b.value("instance", ""), when(b.value("time", int64_t{0})),
                        human_bytes(b.value("size", uint64_t{0})), b.value("path", "")});
      fmt::print("{}", render_table({"INSTANCE", "TAKEN", "SIZE", "PATH"}, rows));
    });
  }
}

}  // namespace vessel::cli
