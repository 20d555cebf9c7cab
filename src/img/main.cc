// vessel-img: disk images in the class of qemu-img. Same verbs, flags and exit codes where they
// overlap; the work is done by src/block (img_ops.h), the verbs here (one file each) only parse
// and print.
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "base/version.h"
#include "img/verb.h"

namespace vessel::img {
// qemu-img accepts "resize FILE -1G": a leading '-' on a number is hidden from the parser (resize.cc).
void protect_negative_sizes(std::vector<std::string>& args);
}  // namespace vessel::img

using namespace vessel::img;

int main(int argc, char** argv) {
  CLI::App app{
      "vessel-img: create, inspect, check, convert, resize and rebase raw and qcow2 disk images.\n"
      "Verbs, flags and exit codes follow qemu-img where they overlap; images interoperate with QEMU\n"
      "both ways. Sizes take K, M, G, T, P or E suffixes (powers of 1024).",
      kProg};
  app.set_version_flag("-V,--version", std::string("vessel-img version ") + vessel::kVersion);
  app.require_subcommand(1);
  app.footer(
      "EXIT STATUS\n"
      "  0 success; 1 error. check: 0 clean, 1 check could not complete, 2 corruptions, 3 leaks only,\n"
      "  63 format without checks. compare: 0 identical, 1 different, 2 error.\n"
      "EXAMPLES\n"
      "  vessel-img create -f qcow2 -o cluster_size=64K,compression_type=zstd disk.qcow2 10G\n"
      "  vessel-img create -f qcow2 -b base.raw -F raw overlay.qcow2\n"
      "  vessel-img convert -f qcow2 -O raw -p disk.qcow2 disk.raw\n"
      "  vessel-img check -r leaks --output json disk.qcow2\n"
      "See docs/block/vessel-img.md.");

  std::unique_ptr<Verb> verbs[] = {create_verb(), info_verb(),   check_verb(),   convert_verb(), resize_verb(),
                                   commit_verb(), rebase_verb(), map_verb(),     compare_verb(), bench_verb()};
  std::vector<std::pair<CLI::App*, Verb*>> chosen;
  for (auto& v : verbs) chosen.emplace_back(v->add(app), v.get());

  std::vector<std::string> args(argv, argv + argc);
  protect_negative_sizes(args);
  std::vector<char*> av;
  for (auto& a : args) av.push_back(a.data());
  try {
    app.parse(static_cast<int>(av.size()), av.data());
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 1;
  }
  for (auto& [sub, verb] : chosen)
    if (*sub) return verb->run();
  return 1;
}
