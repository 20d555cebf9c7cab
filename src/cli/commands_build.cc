// vessel build (docs/daemon/build.md): the context directory sent to vesseld as a tar, as
// `docker build` sends it to dockerd (so --remote works), and the build's progress shown as it goes.
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>

#include "base/cli.h"
#include "base/fd.h"
#include "cli/commands.h"
#include "cli/local_path.h"
#include "cli/progress_lines.h"
#include "files/confined_root.h"
#include "files/tar_pack.h"

namespace vessel::cli {

namespace {

struct BuildFlags {
  std::string tag, file, target, network, context;
  std::vector<std::string> build_args;
  bool no_cache = false, quiet = false, json = false;
};

// -f is a path of the user's; vesseld reads it from the context, so it must lie inside it.
Result<std::string> dockerfile_in_context(const std::string& context, const std::string& file) {
  if (file.empty()) return std::string("Dockerfile");
  std::string path = absolute_path(file);
  if (path.size() <= context.size() + 1 || path.compare(0, context.size() + 1, context + "/") != 0)
    return Unexpected(Error(EINVAL, fmt::format("the Dockerfile {} is not inside the build context {}", file, context))
                          .with_hint("move it into the context directory, or build from a directory that holds it"));
  return path.substr(context.size() + 1);
}

Result<std::string> query_of(const BuildFlags& f, const std::string& dockerfile) {
  json::Json args = json::Json::object();
  for (const auto& a : f.build_args) {
    auto eq = a.find('=');
    if (eq == 0) return fail(EINVAL, "--build-arg {}: NAME=VALUE or NAME", a);
    if (eq != std::string::npos) {
      args[a.substr(0, eq)] = a.substr(eq + 1);
    } else if (const char* v = std::getenv(a.c_str())) {  // Docker: NAME alone takes the environment's value
      args[a] = v;
    }
  }
  std::string q = "/v1/build?progress=1&t=" + escape_segment(f.tag) + "&dockerfile=" + escape_segment(dockerfile);
  if (!args.empty()) q += "&buildargs=" + escape_segment(args.dump());
  if (f.no_cache) q += "&nocache=1";
  if (!f.target.empty()) q += "&target=" + escape_segment(f.target);
  if (!f.network.empty()) q += "&network=" + escape_segment(f.network);
  return q;
}

Result<std::string> pack_context(const std::string& context) {
  auto root = TRY(files::ConfinedRoot::open("/"));
  int fd = ::open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) return fail_errno("make a temporary file in /tmp");
  Fd tar(fd);
  TRY_CTX(files::pack(root, context.substr(1), "", {}, tar.get()), "pack the build context {}", context);
  off_t size = ::lseek(tar.get(), 0, SEEK_END);
  if (size < 0) return fail_errno("seek");
  std::string body(static_cast<size_t>(size), '\0');
  if (::pread(tar.get(), body.data(), body.size(), 0) != size) return fail_errno("read the packed context back");
  return body;
}

// One JSON line of the answer, shown as `docker build` shows its steps.
void show(const json::Json& line, const BuildFlags& f) {
  if (f.quiet) return;
  if (line.contains("step"))
    std::fprintf(stderr, "STEP %d/%d: %s\n", line.value("step", 0), line.value("of", 0), line.value("instruction", "").c_str());
  else if (line.contains("output"))
    std::fprintf(stderr, "%s\n", line.value("output", "").c_str());
  else if (line.contains("cached"))
    std::fprintf(stderr, " ---> Using cache\n");
  else if (line.contains("warning"))
    std::fprintf(stderr, "warning: %s\n", line.value("warning", "").c_str());
  else if (line.contains("built"))
    std::fprintf(stderr, "Successfully built %s as %s\n", line.value("id", "").c_str(), line.value("built", "").c_str());
}

Result<json::Json> build(Client& client, const BuildFlags& f) {
  std::string context = absolute_path(f.context);
  while (context.size() > 1 && context.back() == '/') context.pop_back();
  std::string dockerfile = TRY(dockerfile_in_context(context, f.file));
  std::string path = TRY(query_of(f, dockerfile));
  std::string body = TRY(pack_context(context));
  ProgressLines lines(false, [&f](const std::string& text, const json::Json& line) {
    if (f.json) fmt::print("{}\n", text);
    show(line, f);
  });
  auto r = TRY(client.exchange("POST", path, body, "application/x-tar", [&](std::string_view d) { return lines.feed(d); }));
  if (r.status >= 400) return Unexpected(error_from_response(r.status, r.body));
  return lines.finish();
}

}  // namespace

void add_build_command(CLI::App& app, Context& ctx) {
  auto f = std::make_shared<BuildFlags>();
  auto* c = app.add_subcommand("build", "build an image from a Dockerfile and a context directory");
  c->footer("Examples:\n  vessel build -t app:1.0 .\n  vessel build -t app -f docker/Dockerfile.prod --build-arg VERSION=2 --target runtime .\n\n"
            "The context directory is sent whole to vesseld as a tar; vesseld leaves out what\n"
            ".dockerignore excludes. FROM names an image of the store (vessel image pull first). Each RUN\n"
            "runs in a vessel-runtime container; each step that changes files makes a layer, kept in a\n"
            "cache keyed by the steps before it, the instruction, its build args and the files COPY reads.\n"
            "Prints the image's ID (the digest of its config) on standard output; the steps and RUN's\n"
            "output go to standard error. See docs/daemon/build.md.");
  c->add_option("context", f->context, "the build context: a directory")->required();
  c->add_option("--tag,-t", f->tag, "the image's name: NAME[:TAG] or a registry reference")->required();
  c->add_option("--file,-f", f->file, "the Dockerfile (default: CONTEXT/Dockerfile); it must lie inside the context");
  c->add_option("--build-arg", f->build_args, "NAME=VALUE for an ARG (NAME alone: the value of $NAME here); repeatable");
  c->add_flag("--no-cache", f->no_cache, "run every step, using no cached layer");
  c->add_option("--target", f->target, "build up to this stage (its AS name) and name that");
  c->add_option("--network", f->network, "RUN's network: host (default) or none");
  c->add_flag("--quiet,-q", f->quiet, "print only the image's ID");
  c->add_flag("--json", f->json, "print the build's JSON lines ({\"step\"}, {\"output\"}, {\"cached\"} ... {\"result\"})");
  c->callback([&ctx, f] {
    auto client = ctx.client();
    auto r = build(client, *f);
    if (!r) { ctx.status = report(r.error()); return; }
    if (!f->json) fmt::print("{}\n", r->value("digest", ""));
  });
}

}  // namespace vessel::cli
