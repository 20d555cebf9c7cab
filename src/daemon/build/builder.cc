#include "daemon/build/builder.h"

#include <sys/mount.h>
#include <sys/stat.h>

#include <filesystem>
#include <random>

#include "base/fd.h"
#include "daemon/build/build_cache.h"
#include "daemon/build/build_config.h"
#include "daemon/build/build_context.h"
#include "daemon/build/build_layer.h"
#include "daemon/build/build_steps.h"
#include "daemon/images/archive_import.h"
#include "daemon/images/image_manifest.h"
#include "daemon/images/image_reference.h"
#include "daemon/images/image_store.h"
#include "daemon/images/sha256.h"
#include "daemon/images/stored_image.h"
#include "daemon/images/stored_layer.h"
#include "files/confined_root.h"
#include "runtime/linux/sys.h"

namespace vessel::daemon::build {

namespace fs = std::filesystem;

namespace {

// The scratch directory of one build, removed (with anything still mounted in it) at the end.
struct WorkDir {
  std::string path;
  std::vector<std::string> mounts;
  ~WorkDir() {
    for (const auto& m : mounts) ::umount2(m.c_str(), MNT_DETACH);
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

class Builder {
 public:
  Builder(const BuildServices& services, const BuildOptions& options, const BuildLog& log, WorkDir& work)
      : services_(services), options_(options), log_(log), work_(work),
        env_{services.images, services.containers, services.cgroup_parent, work.path, work.path + "/context",
             options.network, log},
        cache_(services.images.dir()) {}

  Result<json::Json> run(std::string_view context_tar);

 private:
  Result<StageState> build_stage(size_t index);
  Result<StageState> from(const dockerfile::Stage& stage, size_t index);
  Result<StageState> from_image(const std::string& name);
  Result<void> instruction(const dockerfile::Instruction& in, StageState& state);
  // A step that changes files: from the cache, else `work` (which returns the step's directory).
  Result<void> fs_step(const dockerfile::Instruction& in, StageState& state, const std::string& key_part,
                       const std::function<Result<std::string>()>& work);
  Result<void> run_step(const dockerfile::Instruction& in, StageState& state);
  Result<void> copy_step(const dockerfile::Instruction& in, StageState& state);
  Result<void> workdir_step(const dockerfile::Instruction& in, StageState& state);
  Result<CopySource> copy_source(const std::string& from);
  void record(StageState& state, const dockerfile::Instruction& in, bool empty_layer);
  Result<json::Json> commit(const StageState& state);

  const BuildServices& services_;
  const BuildOptions& options_;
  const BuildLog& log_;
  WorkDir& work_;
  StepEnv env_;
  BuildCache cache_;
  dockerfile::Dockerfile file_;
  dockerfile::Vars global_args_;
  std::set<std::string> used_args_;
  std::vector<StageState> stages_;
  int step_ = 0, steps_ = 0;
};

Result<json::Json> Builder::run(std::string_view context_tar) {
  if (::mkdir(env_.context.c_str(), 0755) != 0) return fail_errno("mkdir {}", env_.context);
  auto context = TRY(unpack_build_context(context_tar, env_.context, options_.dockerfile));
  file_ = TRY(dockerfile::parse(context.dockerfile));
  size_t target = TRY(file_.target(options_.target));
  for (const auto& in : file_.global_args) {
    for (const auto& kv : TRY_CTX(dockerfile::key_values(in, global_args_, file_.escape), "Dockerfile line {}, column {}", in.at.line, in.at.column)) {
      std::optional<std::string> value = kv.value;
      if (auto given = options_.build_args.find(kv.key); given != options_.build_args.end()) {
        value = given->second;
        used_args_.insert(kv.key);
      }
      if (value) global_args_[kv.key] = *value;
    }
  }
  for (size_t i = 0; i <= target; ++i) steps_ += 1 + static_cast<int>(file_.stages[i].instructions.size());
  for (size_t i = 0; i <= target; ++i) stages_.push_back(TRY(build_stage(i)));
  for (const auto& [name, value] : options_.build_args)
    if (!used_args_.contains(name)) log_(json::Json{{"warning", fmt::format("--build-arg {} was not consumed by any ARG", name)}});
  return commit(stages_[target]);
}

Result<StageState> Builder::build_stage(size_t index) {
  const auto& stage = file_.stages[index];
  auto at = [](const dockerfile::Instruction& in) { return fmt::format("Dockerfile line {}, column {}", in.at.line, in.at.column); };
  log_(json::Json{{"step", ++step_}, {"of", steps_}, {"line", stage.from.at.line}, {"instruction", instruction_text(stage.from)}});
  StageState state = TRY_CTX(from(stage, index), "{}", at(stage.from));
  for (const auto& in : stage.instructions) {
    log_(json::Json{{"step", ++step_}, {"of", steps_}, {"line", in.at.line}, {"instruction", instruction_text(in)}});
    TRY_CTX(instruction(in, state), "{}", at(in));
  }
  return state;
}

Result<StageState> Builder::from(const dockerfile::Stage& stage, size_t index) {
  if (stage.from.flag("platform") && *stage.from.flag("platform") != "linux/amd64")
    return fail(ENOTSUP, "FROM --platform={}: vessel builds linux/amd64 only", *stage.from.flag("platform"));
  std::string base = TRY(dockerfile::word(stage.base, global_args_, file_.escape));
  if (base.empty()) return fail(EINVAL, "FROM names no image");
  std::string lower = base;
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (size_t j = 0; j < index; ++j)
    if (file_.stages[j].name == lower) {
      StageState state = stages_[j];
      state.args.clear();
      state.cmd_set = false;
      return state;
    }
  if (lower == "scratch") {
    StageState state;
    state.cache_key = chain_key("", "FROM scratch");
    return state;
  }
  return from_image(base);
}

Result<StageState> Builder::from_image(const std::string& name) {
  auto found = services_.images.stored_image(name);
  if (!found && found.error().errnum() == ENOENT)
    return Unexpected(Error(ENOENT, fmt::format("FROM {}: no such image in the store", name))
                          .with_hint(fmt::format("pull it first: vessel image pull {}", name)));
  auto [row, image] = TRY(std::move(found));
  if (image.config_hex.empty())
    return fail(ENOTSUP, "FROM {}: the store has no config for this image (imported by an older vesseld): import it again", name);
  auto text = TRY(read_file(services_.images.dir() + "/blobs/sha256/" + image.config_hex));
  auto doc = TRY_CTX(json::parse(text), "FROM {}: its config", name);
  StageState state;
  state.layers = image.layer_hexes;
  if (doc.is_object() && doc["config"].is_object()) state.config = doc["config"];
  if (doc.is_object() && doc["history"].is_array()) state.history = doc["history"];
  if (doc.is_object() && doc["rootfs"].is_object() && doc["rootfs"]["diff_ids"].is_array())
    for (const auto& d : doc["rootfs"]["diff_ids"])
      if (d.is_string()) state.diff_ids.push_back(d.get<std::string>());
  if (state.diff_ids.size() != state.layers.size())
    return fail(EINVAL, "FROM {}: its config lists {} layers, the store {}", name, state.diff_ids.size(), state.layers.size());
  // One history entry per layer that is not empty_layer, as buildah checks: a base image without
  // (pulled from a tool that writes none) gets one per layer.
  size_t with_layer = 0;
  for (const auto& h : state.history) with_layer += h.is_object() && !h.value("empty_layer", false);
  if (with_layer != state.layers.size()) {
    state.history = json::Json::array();
    for (size_t i = 0; i < state.layers.size(); ++i) state.history.push_back({{"created_by", "layer of " + name}});
  }
  if (state.config["Shell"].is_array()) {
    state.shell.clear();
    for (const auto& s : state.config["Shell"]) state.shell.push_back(s.is_string() ? s.get<std::string>() : "");
  }
  std::string key = "FROM sha256:" + image.config_hex;
  for (const auto& l : state.layers) key += " " + l;
  state.cache_key = chain_key("", key);
  return state;
}

void Builder::record(StageState& state, const dockerfile::Instruction& in, bool empty_layer) {
  json::Json h = {{"created_by", instruction_text(in)}, {"comment", "vessel build"}};
  if (empty_layer) h["empty_layer"] = true;
  state.history.push_back(h);
}

Result<void> Builder::instruction(const dockerfile::Instruction& in, StageState& state) {
  const std::string& k = in.keyword;
  if (k == "RUN") return run_step(in, state);
  if (k == "COPY" || k == "ADD") return copy_step(in, state);
  if (k == "WORKDIR") return workdir_step(in, state);
  ArgSources args{options_.build_args, global_args_, used_args_};
  if (!TRY(apply_config_instruction(in, state, file_.escape, args))) return fail(ENOTSUP, "{} is not supported by vessel build", k);
  // The chain takes the instruction and, for ARG, the values it gave (a new --build-arg is a miss).
  std::string part = instruction_text(in);
  if (k == "ARG")
    for (const auto& [name, value] : state.args) part += "\n" + name + "=" + value;
  state.cache_key = chain_key(state.cache_key, part);
  record(state, in, true);
  return {};
}

Result<void> Builder::fs_step(const dockerfile::Instruction& in, StageState& state, const std::string& key_part,
                              const std::function<Result<std::string>()>& work) {
  std::string key = chain_key(state.cache_key, key_part);
  std::optional<CacheEntry> hit = options_.no_cache ? std::nullopt : cache_.find(key);
  if (hit) {
    log_(json::Json{{"cached", true}});
  } else {
    std::string dir = TRY(work());
    hit = CacheEntry{TRY(commit_upper(env_, dir))};
    std::error_code ec;
    fs::remove_all(dir, ec);
    TRY(cache_.put(key, *hit));
  }
  state.cache_key = key;
  if (hit->layer) {
    state.layers.push_back(*hit->layer);
    state.diff_ids.push_back("sha256:" + *hit->layer);  // the blob is the uncompressed tar
  }
  record(state, in, !hit->layer);
  return {};
}

Result<void> Builder::run_step(const dockerfile::Instruction& in, StageState& state) {
  for (const auto& [name, value] : in.flags)
    if (name != "network") return fail(ENOTSUP, "RUN --{} is not supported by vessel build", name);
  std::string network = options_.network;
  if (auto n = in.flag("network")) {
    if (*n != "none" && *n != "host" && *n != "default") return fail(ENOTSUP, "RUN --network={}: none, host or default", *n);
    if (*n != "default") network = *n;
  }
  std::vector<std::string> argv = in.exec ? *in.exec : state.shell;
  if (!in.exec) argv.push_back(in.args);
  std::string part = instruction_text(in);
  for (const auto& [name, value] : state.args) part += "\n" + name + "=" + value;
  return fs_step(in, state, part, [&]() -> Result<std::string> {
    std::string dir = TRY(new_step_dir(env_));
    StepEnv env = env_;
    env.network = network;
    auto result = TRY(run_in_container(env, state, argv, dir));
    if (result.exit_code != 0)
      return Unexpected(Error(EIO, fmt::format("RUN {} failed: exit status {} ({})", json::Json(argv).dump(), result.exit_code, result.reason))
                            .with_hint(result.output_tail.empty() ? "it printed nothing" : "its last output:\n" + result.output_tail));
    return dir;
  });
}

Result<CopySource> Builder::copy_source(const std::string& from) {
  if (from.empty()) return CopySource{env_.context, true};
  std::string lower = from;
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const StageState* stage = nullptr;
  for (size_t j = 0; j < stages_.size(); ++j)
    if (file_.stages[j].name == lower || std::to_string(j) == lower) stage = &stages_[j];
  StageState image;
  if (!stage) {
    image = TRY(from_image(from));
    stage = &image;
  }
  std::string target = fmt::format("{}/from-{}", work_.path, work_.mounts.size());
  std::string root = TRY(mount_merged(env_, stage->layers, target));
  if (root == target) work_.mounts.push_back(target);
  return CopySource{root, false};
}

Result<void> Builder::copy_step(const dockerfile::Instruction& in, StageState& state) {
  std::string from;
  if (auto f = in.flag("from")) from = TRY(dockerfile::word(*f, stage_vars(state), file_.escape));
  if (!from.empty() && in.keyword == "ADD") return fail(ENOTSUP, "ADD --from is not an option: use COPY --from");
  auto source = TRY(copy_source(from));
  std::string plan_dir = TRY(new_step_dir(env_));
  auto plan = TRY(CopyPlan::prepare(env_, in, state, source, plan_dir));
  TRY(fs_step(in, state, instruction_text(in) + "\n" + plan.digest(), [&]() -> Result<std::string> {
    auto step = TRY(MountedStep::mount(env_, state, "build step"));
    TRY(plan.apply(step.rootfs()));
    step.unmount();
    return step.dir();
  }));
  std::error_code ec;
  fs::remove_all(plan_dir, ec);
  return {};
}

Result<void> Builder::workdir_step(const dockerfile::Instruction& in, StageState& state) {
  std::string path = TRY(dockerfile::word(in.args, stage_vars(state), file_.escape));
  if (path.empty()) return fail(EINVAL, "WORKDIR needs a path");
  path = runtime::sys::normalize_in_root(path.starts_with("/") ? path : workdir_of(state) + "/" + path);
  state.config["WorkingDir"] = path;
  // The directory is made now (when missing), so that RUN can start in it.
  return fs_step(in, state, "WORKDIR " + path, [&]() -> Result<std::string> {
    auto step = TRY(MountedStep::mount(env_, state, "build step"));
    auto root = TRY(files::ConfinedRoot::open(step.rootfs()));
    TRY_CTX(root.open_dir(path.substr(1), true), "make {}", path);
    step.unmount();
    return step.dir();
  });
}

Result<json::Json> Builder::commit(const StageState& state) {
  std::string text = image_config_document(state);
  std::string hex = sha256_hex(text);
  TRY(store_blob_text(services_.images.dir(), hex, text));
  ImportedImage image;
  image.format = "build";
  image.manifest_digest = "sha256:" + hex;  // a built image's ID is its config's digest, as Docker's
  image.config_hex = hex;
  for (const auto& l : state.layers) {
    image.layers.push_back("sha256:" + l);
    struct stat st;
    if (::stat((services_.images.dir() + "/blobs/sha256/" + l).c_str(), &st) == 0) image.size += static_cast<uint64_t>(st.st_size);
  }
  apply_image_config(TRY_CTX(parse_image_config(text), "the built config"), image);
  auto result = TRY(services_.images.commit_built(options_.tag, image));
  log_(json::Json{{"built", result.value("name", "")}, {"id", "sha256:" + hex}});
  return result;
}

std::string build_id() {
  std::random_device rd;
  return fmt::format("{:08x}{:08x}", rd(), rd());
}

}  // namespace

Result<json::Json> build_image(const BuildServices& services, std::string_view context_tar, const BuildOptions& options,
                               const BuildLog& log) {
  if (options.tag.empty()) return fail(EINVAL, "the image needs a name (-t NAME[:TAG])");
  // Checked before the build runs (commit_built stores it canonical, as `image tag` does).
  if (options.tag.find_first_of("/:@") != std::string::npos) TRY_CTX(parse_image_reference(options.tag), "-t {}", options.tag);
  else TRY_CTX(validate_image_name(options.tag), "-t {}", options.tag);
  if (options.network != "host" && options.network != "none") return fail(EINVAL, "--network {}: host or none", options.network);
  WorkDir work{services.images.dir() + "/tmp/build-" + build_id(), {}};
  if (::mkdir(work.path.c_str(), 0700) != 0) return fail_errno("mkdir {}", work.path);
  Builder builder(services, options, log, work);
  return builder.run(context_tar);
}

}  // namespace vessel::daemon::build
