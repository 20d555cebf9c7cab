// The CLI's usage errors and bash completion, run as a user runs them (no daemon needed).
#include <filesystem>

#include "daemon_fixture.h"

namespace vessel::test {
namespace {

TEST(CliUsage, ParseErrorsSpeakVesselsVoiceAndExit2) {
  struct Case {
    std::vector<std::string> args;
    std::string says, help;
  };
  for (const auto& c : std::vector<Case>{
           {{"ls", "--bogus"}, "--bogus", "see `vessel ls --help`"},
           {{"image", "import", "--disk"}, "--disk", "see `vessel image import --help`"},
           {{"trust", "add"}, "cert", "see `vessel trust add --help`"},
           {{"frobnicate"}, "frobnicate", "see `vessel --help`"},
           {{}, "subcommand", "see `vessel --help`"},
           {{"run", "--cpus", "many"}, "many", "see `vessel run --help`"},
       }) {
    std::vector<std::string> argv{vessel_path()};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    auto r = run(argv);
    EXPECT_EQ(r.status, 2) << c.says;
    EXPECT_EQ(r.err.rfind("vessel: error: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(c.says), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(c.help), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("Run with --help"), std::string::npos) << r.err;
  }
  auto help = run({vessel_path(), "--help"});
  EXPECT_EQ(help.status, 0);
  EXPECT_NE(help.out.find("trust"), std::string::npos);
  EXPECT_NE(help.out.find("--remote"), std::string::npos);
}

// Docker's habits: -d is accepted (detached is the default) but not with --attach or --wait, and
// --name "" is an error rather than a generated name. Both are refused before vesseld is asked.
TEST(CliUsage, EmptyNameAndDetachWithAttachAreRefusedBeforeAnythingIsAsked) {
  auto empty = run({vessel_path(), "--socket", "/nonexistent/vessel.sock", "run", "--name", "", "--rootfs", "/r", "--", "/bin/true"});
  EXPECT_EQ(empty.status, 1);
  EXPECT_NE(empty.err.find("--name is empty"), std::string::npos) << empty.err;
  EXPECT_NE(empty.err.find("leave --name out"), std::string::npos) << empty.err;
  auto both = run({vessel_path(), "--socket", "/nonexistent/vessel.sock", "run", "-d", "-a", "--rootfs", "/r", "--", "/bin/true"});
  EXPECT_EQ(both.status, 1);
  EXPECT_NE(both.err.find("--detach excludes --attach and --wait"), std::string::npos) << both.err;
  auto detached = run({vessel_path(), "--socket", "/nonexistent/vessel.sock", "run", "-d", "--rootfs", "/r", "--", "/bin/true"});
  EXPECT_EQ(detached.status, 1) << "-d is a known flag (a usage error exits 2): " << detached.err;
  EXPECT_NE(detached.err.find("/nonexistent/vessel.sock"), std::string::npos) << detached.err;
}

// Runs the completion function on a command line; the last word is being completed.
std::string complete(const std::vector<std::string>& words, const std::string& prelude = "") {
  std::string array;
  for (const auto& w : words) array += " '" + w + "'";
  std::string script = prelude + "source <(" + vessel_path() + " completion bash); COMP_WORDS=(" + array +
                       "); COMP_CWORD=" + std::to_string(words.size() - 1) + "; _vessel; echo \"${COMPREPLY[*]}\"";
  auto r = run({"bash", "-c", script});
  EXPECT_EQ(r.status, 0) << r.err;
  return r.out;
}

TEST(CliCompletion, CoversTrustRemoteAndDisks) {
  EXPECT_EQ(complete({"vessel", "tr"}), "trust\n");
  EXPECT_EQ(complete({"vessel", "--rem"}), "--remote\n");
  EXPECT_EQ(complete({"vessel", "trust", ""}), "add ls rm\n");
  // Global options and their values before the verb are skipped.
  EXPECT_EQ(complete({"vessel", "--remote", "https://h:8443", "--client-cert", "c.pem", "trust", "l"}), "ls\n");
  EXPECT_EQ(complete({"vessel", "--remote", "https://h:8443", "image", "import", "--di"}), "--disk\n");
  EXPECT_EQ(complete({"vessel", "image", "ls", "--j"}), "--json\n");
  EXPECT_EQ(complete({"vessel", "trust", "ls", "--j"}), "--json\n");
  EXPECT_EQ(complete({"vessel", "run", "--di"}), "--disk\n");
}

// Names are asked of the vesseld the command line names (--socket before the verb), and global
// options may also follow the verb.
TEST(CliCompletion, NamesComeFromTheDaemonTheCommandLineNames) {
  TempDir tmp;
  make_busybox_rootfs(tmp.path + "/rootfs");
  Daemon d(tmp.path);
  ASSERT_TRUE(d.start()) << d.log();
  ASSERT_EQ(d.vessel({"create", "--name", "comp-me", "--rootfs", tmp.path + "/rootfs", "--", "/bin/true"}).status, 0);
  std::string bin_dir = std::filesystem::path(vessel_path()).parent_path();
  std::string path = "PATH=" + bin_dir + ":$PATH; unset VESSEL_SOCKET; ";
  EXPECT_EQ(complete({"vessel", "--socket", d.socket(), "start", "comp"}, path), "comp-me\n");
  EXPECT_EQ(complete({"vessel", "--socket=" + d.socket(), "rm", "comp"}, path), "comp-me\n");
  EXPECT_EQ(complete({"vessel", "start", "comp"}, path), "\n") << "the default socket has no such instance";
  auto after = run({vessel_path(), "inspect", "comp-me", "--socket", d.socket()});
  EXPECT_EQ(after.status, 0) << after.err;
  EXPECT_NE(after.out.find("\"comp-me\""), std::string::npos) << after.out;
}

}  // namespace
}  // namespace vessel::test
