// vessel build through the real CLI, vesseld, vessel-runtime and image store: a Dockerfile FROM a
// busybox image with ARG, ENV, WORKDIR, COPY, RUN and CMD builds and runs; the cache is hit on a
// second build and missed after the context changed; a failing RUN fails the build naming its
// line, leaving no image and a daemon that still answers; a symlink out of the context leads
// nowhere; multi-stage COPY --from; .dockerignore; ADD of a local tar.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "daemon_fixture.h"
#include "base/fd.h"

namespace vessel::test {
namespace {

namespace fs = std::filesystem;

class Build : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(daemon.start()) << daemon.log();
    std::string archive = make_busybox_image_archive(tmp.path + "/bb", R"({"Cmd":["/bin/sh"],"Env":["PATH=/bin"]})");
    auto imported = daemon.vessel({"image", "import", "-q", archive, "--name", "bb"});
    ASSERT_EQ(imported.status, 0) << imported.err << daemon.log();
    context = tmp.path + "/ctx";
    fs::create_directories(context + "/sub");
  }
  void write(const std::string& rel, const std::string& text) { std::ofstream(context + "/" + rel) << text; }
  CliResult build(std::vector<std::string> flags) {
    std::vector<std::string> args{"build"};
    args.insert(args.end(), flags.begin(), flags.end());
    args.push_back(context);
    return daemon.vessel(args);
  }
  // `vessel run -a IMAGE`'s output after the instance's name.
  std::string run_output(const std::string& image) {
    auto r = daemon.vessel({"run", "-a", "--rm", image});
    EXPECT_EQ(r.status, 0) << r.err << daemon.log();
    return r.out.substr(r.out.find('\n') + 1);
  }
  int cached_steps(const CliResult& r) {
    int n = 0;
    for (size_t at = r.err.find("Using cache"); at != std::string::npos; at = r.err.find("Using cache", at + 1)) ++n;
    return n;
  }
  TempDir tmp;
  Daemon daemon{tmp.path};
  std::string context;
};

TEST_F(Build, DockerfileBuildsRunsAndCaches) {
  write("Dockerfile",
        "# the issue's example\n"
        "ARG BASE=bb\n"
        "FROM ${BASE}\n"
        "ARG GREETING=hello\n"
        "ENV TARGET=world \\\n    PATH=/bin\n"
        "WORKDIR /app\n"
        "COPY greet.txt ./\n"
        "COPY sub/ /app/sub/\n"
        "RUN echo \"$GREETING $TARGET\" > out.txt && cat greet.txt >> out.txt && busybox rm /bin/ps\n"
        "LABEL team=vessel\n"
        "EXPOSE 8080\n"
        "CMD [\"/bin/sh\", \"-c\", \"cat out.txt sub/inner.txt; pwd; test -e /bin/ps || echo ps-gone\"]\n");
  write("greet.txt", "from the context\n");
  write("sub/inner.txt", "inner file\n");
  auto first = build({"-t", "app:1", "--build-arg", "GREETING=hi"});
  ASSERT_EQ(first.status, 0) << first.err << daemon.log();
  EXPECT_EQ(first.out.substr(0, 7), "sha256:") << first.out;
  EXPECT_NE(first.err.find("STEP 2/10: ARG GREETING=hello"), std::string::npos) << first.err;
  EXPECT_EQ(run_output("app:1"), "hi world\nfrom the context\ninner file\n/app\nps-gone\n");
  // The image: its config, history and labels as Docker records them.
  auto inspect = daemon.vessel_json({"image", "inspect", "app:1"});
  EXPECT_EQ(inspect["info"].value("workdir", ""), "/app") << inspect.dump();
  EXPECT_EQ(inspect["info"]["layers"].size(), 5u) << inspect.dump();  // base, WORKDIR, 2 COPY, RUN

  // The same again: every step from the cache, the same image.
  auto second = build({"-t", "app:2", "--build-arg", "GREETING=hi"});
  ASSERT_EQ(second.status, 0) << second.err;
  EXPECT_EQ(cached_steps(second), 4) << second.err;
  EXPECT_EQ(daemon.vessel_json({"image", "inspect", "app:2"})["info"]["layers"], inspect["info"]["layers"]);
  // A changed file of the context: its COPY and what follows run again.
  write("greet.txt", "changed\n");
  auto third = build({"-t", "app:3", "--build-arg", "GREETING=hi"});
  ASSERT_EQ(third.status, 0) << third.err;
  EXPECT_EQ(cached_steps(third), 1) << third.err;  // WORKDIR only
  EXPECT_EQ(run_output("app:3"), "hi world\nchanged\ninner file\n/app\nps-gone\n");
  // --no-cache runs every step; another --build-arg misses from its ARG on.
  auto fresh = build({"-t", "app:4", "--no-cache"});
  ASSERT_EQ(fresh.status, 0) << fresh.err;
  EXPECT_EQ(cached_steps(fresh), 0);
  EXPECT_EQ(run_output("app:4"), "hello world\nchanged\ninner file\n/app\nps-gone\n");
}

TEST_F(Build, FailingRunNamesItsLineAndLeavesNoImage) {
  write("Dockerfile", "FROM bb\nRUN echo before\nRUN echo doomed-output; exit 3\nCMD [\"true\"]\n");
  auto failed = build({"-t", "broken"});
  EXPECT_EQ(failed.status, 1) << failed.err << daemon.log();
  EXPECT_NE(failed.err.find("Dockerfile line 3, column 1"), std::string::npos) << failed.err;
  EXPECT_NE(failed.err.find("exit status 3"), std::string::npos) << failed.err;
  EXPECT_NE(failed.err.find("doomed-output"), std::string::npos) << failed.err;
  EXPECT_NE(daemon.vessel({"image", "inspect", "broken"}).status, 0);
  // Nothing of the build left in the store's scratch space; the daemon answers.
  for (const auto& e : fs::directory_iterator(daemon.state_dir() + "/images/tmp"))
    EXPECT_EQ(e.path().filename().string().rfind("build-", 0), std::string::npos) << e.path() << daemon.log();
  EXPECT_EQ(daemon.vessel({"image", "ls"}).status, 0);
  // A syntax error names its line and column too.
  write("Dockerfile", "FROM bb\nFORM x\n");
  auto syntax = build({"-t", "broken"});
  EXPECT_EQ(syntax.status, 1);
  EXPECT_NE(syntax.err.find("line 2, column 1"), std::string::npos) << syntax.err;
}

TEST_F(Build, SymlinkOutOfTheContextLeadsNowhere) {
  fs::create_symlink("/etc", context + "/escape");
  fs::create_symlink("/etc/hostname", context + "/host-file");
  write("Dockerfile", "FROM bb\nCOPY escape/hostname /stolen\n");
  auto through_dir = build({"-t", "hostile"});
  EXPECT_EQ(through_dir.status, 1) << through_dir.out;
  EXPECT_NE(through_dir.err.find("not in the build context"), std::string::npos) << through_dir.err;
  write("Dockerfile", "FROM bb\nCOPY host-file /stolen\n");
  auto through_file = build({"-t", "hostile"});
  EXPECT_EQ(through_file.status, 1) << through_file.out;
  EXPECT_NE(daemon.vessel({"image", "inspect", "hostile"}).status, 0);
  // The symlink itself, copied with its directory, stays a symlink (to nothing in the image).
  write("Dockerfile", "FROM bb\nCOPY . /ctx/\nCMD [\"/bin/sh\", \"-c\", \"busybox readlink /ctx/escape; cat /ctx/escape/hostname 2>/dev/null || echo no-host-file\"]\n");
  auto copied = build({"-t", "links"});
  ASSERT_EQ(copied.status, 0) << copied.err;
  EXPECT_EQ(run_output("links"), "/etc\nno-host-file\n");
}

TEST_F(Build, MultiStageCopyFromIgnoreAndAdd) {
  write(".dockerignore", "# not sent to COPY\nsecret*\n!secret-ok\n");
  write("secret.key", "do not copy\n");
  write("secret-ok", "may copy\n");
  fs::create_directories(tmp.path + "/tarsrc/pkg");
  std::ofstream(tmp.path + "/tarsrc/pkg/data.txt") << "from the tarball\n";
  ASSERT_EQ(run({"tar", "-C", tmp.path + "/tarsrc", "-czf", context + "/pkg.tar.gz", "pkg"}).status, 0);
  write("Dockerfile",
        "FROM bb AS builder\n"
        "WORKDIR /src\n"
        "COPY . .\n"
        "RUN ls /src > /listing && echo built > /artifact\n"
        "FROM scratch AS unused\n"
        "COPY secret-ok /\n"
        "FROM bb\n"
        "COPY --from=builder /artifact /listing /out/\n"
        "ADD pkg.tar.gz /opt/\n"
        "USER 1000:1000\n"
        "CMD [\"/bin/sh\", \"-c\", \"cat /out/artifact /out/listing /opt/pkg/data.txt; id -u\"]\n");
  auto r = build({"-t", "multi"});
  ASSERT_EQ(r.status, 0) << r.err << daemon.log();
  EXPECT_EQ(run_output("multi"), "built\nDockerfile\npkg.tar.gz\nsecret-ok\nsub\nfrom the tarball\n1000\n");
  // --target names an earlier stage.
  auto target = build({"-t", "just-builder", "--target", "builder", "-q"});
  ASSERT_EQ(target.status, 0) << target.err;
  EXPECT_EQ(daemon.vessel_json({"image", "inspect", "just-builder"})["info"].value("workdir", ""), "/src");
}


// vesseld killed while a RUN runs: the next vesseld removes the RUN container, its mounts and the
// build's scratch directory; no image was named.
TEST_F(Build, CrashMidRunLeavesNothingAfterRestart) {
  write("Dockerfile", "FROM bb\nRUN echo started; sleep 120\n");
  std::thread client([&] { (void)build({"-t", "cut-short"}); });
  std::string runtime = daemon.state_dir() + "/runtime", tmpdir = daemon.state_dir() + "/images/tmp";
  auto build_entries = [](const std::string& dir, const std::string& prefix) {
    int n = 0;
    if (fs::exists(dir))
      for (const auto& e : fs::directory_iterator(dir)) n += e.path().filename().string().rfind(prefix, 0) == 0;
    return n;
  };
  EXPECT_TRUE(eventually([&] { return build_entries(runtime, "build+") == 1; }, 600)) << daemon.log();
  daemon.stop(SIGKILL);
  client.join();
  ASSERT_TRUE(daemon.start()) << daemon.log();
  EXPECT_EQ(build_entries(runtime, "build+"), 0);
  EXPECT_EQ(build_entries(tmpdir, "build-"), 0);
  EXPECT_EQ(read_file("/proc/self/mountinfo").value().find(tmpdir + "/build-"), std::string::npos);
  EXPECT_NE(daemon.vessel({"image", "inspect", "cut-short"}).status, 0);
  // The daemon builds again.
  write("Dockerfile", "FROM bb\nRUN echo again > /again\n");
  EXPECT_EQ(build({"-t", "again"}).status, 0) << daemon.log();
}


// A client other than the CLI may send any tar: entries climbing out with "..", a symlink to /etc
// and a file written through it, a hard link to a host file. The context is unpacked confined:
// the build fails or stays inside it; nothing lands on the host.
TEST_F(Build, HostileContextTarsStayConfined) {
  std::string marker = "vessel-build-escape-" + std::to_string(::getpid());
  auto post = [&](const std::string& tar_maker) {
    std::string tar = tmp.path + "/hostile.tar";
    auto made = run({"python3", "-c", "import tarfile, io, sys\n"
                                      "t = tarfile.open(sys.argv[1], 'w')\n"
                                      "def add(name, data=b'x', **kw):\n"
                                      "    i = tarfile.TarInfo(name); i.size = len(data)\n"
                                      "    for k, v in kw.items(): setattr(i, k, v)\n"
                                      "    t.addfile(i, io.BytesIO(data) if i.isreg() else None)\n"
                                      "add('Dockerfile', b'FROM bb\\nCOPY . /ctx/\\n')\n" + tar_maker + "t.close()\n",
                     tar});
    EXPECT_EQ(made.status, 0) << made.err;
    return run({"curl", "-s", "--unix-socket", daemon.socket(), "-X", "POST", "-H", "Content-Type: application/x-tar",
                "--data-binary", "@" + tar, "http://localhost/v1/build?t=hostile"});
  };
  auto up = post("add('../../../../tmp/" + marker + "')\n");
  EXPECT_NE(up.out.find("\"error\""), std::string::npos) << up.out;
  auto through_link = post("add('etc', type=tarfile.SYMTYPE, linkname='/tmp')\nadd('etc/" + marker + "')\n");
  EXPECT_NE(through_link.out.find("\"error\""), std::string::npos) << through_link.out;
  auto hard = post("add('passwd', type=tarfile.LNKTYPE, linkname='/etc/passwd')\n");
  EXPECT_NE(hard.out.find("\"error\""), std::string::npos) << hard.out;
  EXPECT_FALSE(fs::exists("/tmp/" + marker));
  EXPECT_NE(daemon.vessel({"image", "inspect", "hostile"}).status, 0);
  auto not_tar = run({"curl", "-s", "--unix-socket", daemon.socket(), "-X", "POST", "--data-binary", "not a tar",
                      "http://localhost/v1/build?t=hostile"});
  EXPECT_NE(not_tar.out.find("\"error\""), std::string::npos) << not_tar.out;
  EXPECT_EQ(daemon.vessel({"image", "ls"}).status, 0);
}


// RUN on the host's network gets the host's resolver, read-only and left out of the layer.
TEST_F(Build, RunSeesTheHostsResolverWhichStaysOutOfTheImage) {
  ASSERT_TRUE(fs::exists("/etc/resolv.conf")) << "the host needs a resolver file for this test";
  write("Dockerfile", "FROM bb\nRUN cat /etc/resolv.conf > /seen; echo changed >> /etc/resolv.conf || echo read-only\n"
                      "CMD [\"/bin/sh\", \"-c\", \"cat /seen; test -e /etc/resolv.conf && echo has-resolv || echo no-resolv\"]\n");
  auto r = build({"-t", "resolv"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("read-only"), std::string::npos) << r.err;
  std::ifstream host("/etc/resolv.conf");
  std::string expected((std::istreambuf_iterator<char>(host)), std::istreambuf_iterator<char>());
  auto out = run_output("resolv");
  EXPECT_EQ(out.substr(0, expected.size()), expected);
  EXPECT_TRUE(out.ends_with("no-resolv\n")) << out;
}

}  // namespace
}  // namespace vessel::test
