// export, import: an instance's backup as one archive file (docs/daemon/backup.md).
#include <fcntl.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <filesystem>

#include "base/fd.h"
#include "cli/commands.h"
#include "cli/format.h"
#include "cli/progress_lines.h"

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
  auto r = TRY(ctx.client().exchange("GET", url, "", "application/json", [&](std::string_view data) {
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
  }));
  if (bar && shown) fmt::print(stderr, "\r\033[K");
  if (r.status >= 400) return Unexpected(error_from_response(r.status, r.body));
  if (write_error) return Unexpected(*write_error);
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
    std::error_code ec;
    std::string path = std::filesystem::absolute(f.file, ec).string();
    if (::access(path.c_str(), R_OK) != 0) return fail_errno("{}", f.file);
    r = TRY(ctx.client().exchange("POST", url, json::Json{{"path", path}}.dump(), "application/json", on_data));
  } else {
    auto body = TRY(read_file(f.file));
    r = TRY(ctx.client().exchange("POST", url, body, "application/x-tar", on_data));
  }
  if (r.status >= 400) return Unexpected(error_from_response(r.status, r.body));
  return lines.finish();
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
                "also carry the saved state: a checkpointed container's CRIU images, so it resumes where it was");
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
}

}  // namespace vessel::cli
