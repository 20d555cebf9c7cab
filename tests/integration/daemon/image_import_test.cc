// Image import from what `podman save` writes (docker-archive and OCI archive), made offline from
// a busybox-static rootfs that podman imports; then a container runs from the image.
#include <filesystem>
#include <fstream>

#include "daemon_fixture.h"

namespace vessel::test {
namespace {

// podman with private storage and configuration under `dir`.
CliResult podman(const std::string& dir, std::vector<std::string> args) {
  std::vector<std::string> argv{"env", "CONTAINERS_CONF=" + dir + "/containers.conf", "CONTAINERS_STORAGE_CONF=" + dir + "/storage.conf",
                                "podman"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, std::chrono::seconds(300));
}

TEST(ImageImport, PodmanSavedImagesImportAndRun) {
  if (run({"podman", "--version"}).status != 0) {
    FAIL() << "podman is not installed (scripts/packages.txt lists it)";
  }
  TempDir tmp;
  make_busybox_rootfs(tmp.path + "/rootfs");
  std::ofstream(tmp.path + "/storage.conf") << "[storage]\ndriver = \"vfs\"\nrunroot = \"" << tmp.path
                                            << "/podman-run\"\ngraphroot = \"" << tmp.path << "/podman-graph\"\n";
  std::ofstream(tmp.path + "/containers.conf") << "[engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n"
                                               << "events_logfile_path = \"" << tmp.path << "/events.log\"\ntmp_dir = \""
                                               << tmp.path << "/podman-tmp\"\n";
  ASSERT_EQ(run({"tar", "-C", tmp.path + "/rootfs", "-cf", tmp.path + "/rootfs.tar", "."}).status, 0);
  auto imported = podman(tmp.path, {"import", "--change", "CMD [\"/bin/echo\",\"default-cmd\"]", tmp.path + "/rootfs.tar", "localhost/bb:latest"});
  ASSERT_EQ(imported.status, 0) << imported.err;
  auto saved = podman(tmp.path, {"save", "-o", tmp.path + "/bb-docker.tar", "localhost/bb:latest"});
  ASSERT_EQ(saved.status, 0) << saved.err;
  auto saved_oci = podman(tmp.path, {"save", "--format", "oci-archive", "-o", tmp.path + "/bb-oci.tar", "localhost/bb:latest"});
  ASSERT_EQ(saved_oci.status, 0) << saved_oci.err;
  (void)podman(tmp.path, {"system", "reset", "-f"});

  Daemon daemon(tmp.path);
  ASSERT_TRUE(daemon.start()) << daemon.log();
  auto a = daemon.vessel({"image", "import", tmp.path + "/bb-docker.tar", "--name", "bb"});
  ASSERT_EQ(a.status, 0) << a.err << daemon.log();
  EXPECT_EQ(a.out, "bb\n");
  auto b = daemon.vessel({"image", "import", "-q", tmp.path + "/bb-oci.tar", "--name", "bboci"});
  ASSERT_EQ(b.status, 0) << b.err;
  auto list = daemon.vessel_json({"image", "ls", "--json"});
  ASSERT_EQ(list.size(), 2u) << list.dump();
  EXPECT_EQ(list[0]["info"].value("format", ""), "docker-archive");
  EXPECT_EQ(list[1]["info"].value("format", ""), "oci-layout");
  EXPECT_EQ(daemon.vessel({"image", "import", tmp.path + "/bb-docker.tar", "--name", "bb"}).status, 1);  // name taken

  // Runs with the image's default command, then with one given.
  auto dflt = daemon.vessel({"run", "--attach", "--name", "d", "bb"});
  EXPECT_EQ(dflt.out, "d\ndefault-cmd\n") << dflt.err << daemon.log();
  auto given = daemon.vessel({"run", "--attach", "--name", "g", "-e", "X=from-oci", "bboci", "--", "/bin/sh", "-c", "echo $X > /tmp/f; cat /tmp/f"});
  EXPECT_EQ(given.out, "g\nfrom-oci\n") << given.err << daemon.log();
  // The container's writes went to its own upper layer, never to the shared image layer.
  auto layer_dirs = std::filesystem::directory_iterator(daemon.state_dir() + "/images/layers");
  for (const auto& l : layer_dirs) EXPECT_FALSE(std::filesystem::exists(l.path() / "tmp/f")) << l.path();

  auto busy = daemon.vessel({"image", "rm", "bb"});
  EXPECT_EQ(busy.status, 1);
  EXPECT_NE(busy.err.find("used by instance d"), std::string::npos) << busy.err;
  ASSERT_EQ(daemon.vessel({"rm", "d", "g"}).status, 0);
  EXPECT_EQ(daemon.vessel({"image", "rm", "bb", "bboci"}).status, 0);
  EXPECT_TRUE(daemon.vessel_json({"image", "ls", "--json"}).empty());
  EXPECT_TRUE(std::filesystem::is_empty(daemon.state_dir() + "/images/layers"));

  // Without --name an image is named as `docker load` names it: by the archive's RepoTags (OCI:
  // ref.name), canonical. A reference given as --name is stored canonical too.
  auto own = daemon.vessel({"image", "import", "-q", tmp.path + "/bb-docker.tar"});
  ASSERT_EQ(own.status, 0) << own.err << daemon.log();
  EXPECT_EQ(own.out, "localhost/bb:latest\n");
  auto taken = daemon.vessel({"image", "import", "-q", tmp.path + "/bb-oci.tar"});
  EXPECT_EQ(taken.status, 1);
  EXPECT_NE(taken.err.find("an image named localhost/bb:latest already exists"), std::string::npos) << taken.err;
  EXPECT_NE(taken.err.find("--name"), std::string::npos) << taken.err;
  auto tagged = daemon.vessel({"image", "import", "-q", tmp.path + "/bb-oci.tar", "--name", "bb:1.0"});
  ASSERT_EQ(tagged.status, 0) << tagged.err;
  EXPECT_EQ(tagged.out, "docker.io/library/bb:1.0\n");
  ASSERT_EQ(daemon.vessel({"image", "import", "-q", tmp.path + "/bb-oci.tar", "--name", "plain"}).status, 0);
  // Each is found by the short forms Docker accepts; a plain name is also NAME:latest.
  for (std::string ref : {"localhost/bb", "localhost/bb:latest", "bb:1.0", "docker.io/library/bb:1.0", "plain:latest"}) {
    auto r = daemon.vessel({"run", "--rm", "--attach", "--pull", "never", "--name", "byref", ref, "--", "/bin/echo", ref});
    EXPECT_EQ(r.out, "byref\n" + ref + "\n") << ref << ": " << r.err;
  }
  EXPECT_EQ(daemon.vessel({"image", "rm", "localhost/bb:latest", "bb:1.0", "plain"}).status, 0);

  // A corrupted archive is refused and leaves nothing behind.
  std::string bad = tmp.path + "/bad.tar";
  std::filesystem::copy_file(tmp.path + "/bb-docker.tar", bad);
  {
    std::fstream f(bad, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(std::filesystem::file_size(bad) / 2));
    f.write("CORRUPTION", 10);
  }
  auto refused = daemon.vessel({"image", "import", "-q", bad, "--name", "bad"});
  EXPECT_EQ(refused.status, 1);
  EXPECT_TRUE(daemon.vessel_json({"image", "ls", "--json"}).empty());
}

}  // namespace
}  // namespace vessel::test
