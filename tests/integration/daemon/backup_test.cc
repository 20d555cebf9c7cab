// Backups of containers (docs/daemon/backup.md) with two real vesselds on this machine: a running
// container exported (frozen for it, running after), removed, imported by the other vesseld and
// started, its changes to the root filesystem intact (a new file, a deleted file, a symlink);
// corrupt, truncated and foreign archives refused with nothing left behind.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "daemon_fixture.h"

namespace vessel::test {
namespace {

namespace fs = std::filesystem;

// Counts its starts in /runs; on its first start it makes its changes: a file, a symlink, and
// the deletion of a file of the image (a whiteout in the diff).
const std::string kChanger =
    "echo run >> /runs; [ -e /kept.txt ] || { echo kept-by-backup > /kept.txt; busybox ln -s /kept.txt /link; "
    "busybox rm /etc/motd; }; "
    "exec sleep 600";

bool has_instance(const Daemon& d, const std::string& name) {
  for (const auto& i : d.vessel_json({"ls", "-a", "--json"}))
    if (i.value("name", "") == name) return true;
  return false;
}

std::string in(const Daemon& d, const std::string& name, const std::string& command) {
  return d.vessel({"exec", name, "--", "/bin/sh", "-c", command}).out;
}

// No instance directory, no staging directory: an import that failed left nothing.
void expect_nothing_left(const Daemon& d, const std::string& name) {
  EXPECT_FALSE(has_instance(d, name));
  EXPECT_FALSE(fs::exists(d.state_dir() + "/instances/" + name));
  for (const auto& e : fs::directory_iterator(d.state_dir()))
    EXPECT_NE(e.path().filename().string().rfind("import-", 0), 0u) << e.path();
}

class Backup : public ::testing::Test {
 protected:
  void SetUp() override {
    make_busybox_rootfs(tmp.path + "/rootfs");
    std::ofstream(tmp.path + "/rootfs/etc/motd") << "in the image\n";
    ASSERT_TRUE(a.start()) << a.log();
    ASSERT_TRUE(b.start()) << b.log();
  }
  TempDir tmp, tmp_b;
  SecondCgroupParent parent_b;
  Daemon a{tmp.path};
  Daemon b{tmp_b.path, {"--cgroup-parent", parent_b.name}};
};

TEST_F(Backup, AContainerExportedRemovedAndImportedElsewhereRunsWithItsFiles) {
  auto r = a.vessel({"run", "--name", "keep", "--rootfs", tmp.path + "/rootfs", "--label", "tier=web", "--",
                     "/bin/sh", "-c", kChanger});
  ASSERT_EQ(r.status, 0) << r.err << a.log();
  ASSERT_TRUE(eventually([&] { return in(a, "keep", "cat /kept.txt") == "kept-by-backup\n"; })) << a.log();

  // Exported while it runs: frozen for the pack, running after.
  std::string archive = tmp.path + "/keep.tar";
  auto ex = a.vessel({"export", "keep", "-o", archive, "--json"});
  ASSERT_EQ(ex.status, 0) << ex.err << a.log();
  auto summary = json::parse(ex.out).value_or(json::Json::object());
  EXPECT_EQ(summary.value("name", ""), "keep") << ex.out;
  ASSERT_EQ(summary["files"].size(), 1u) << ex.out;
  EXPECT_EQ(summary["files"][0].value("name", ""), "rootfs-diff.tar");
  EXPECT_EQ(summary.value("archive_bytes", uint64_t{0}), fs::file_size(archive));
  EXPECT_EQ(a.vessel_json({"inspect", "keep"}).value("state", ""), "running");
  EXPECT_EQ(in(a, "keep", "echo alive"), "alive\n") << "thawed after the export";
  struct stat st;
  ASSERT_EQ(::stat(archive.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 077, 0u) << "the archive holds every file of the instance: private";
  ASSERT_EQ(a.vessel({"rm", "--force", "keep"}).status, 0);

  // The other vesseld: imported as created, with the spec as it was; started, it has its files.
  auto im = b.vessel({"import", archive, "--json"});
  ASSERT_EQ(im.status, 0) << im.err << b.log();
  auto made = json::parse(im.out).value_or(json::Json::object());
  EXPECT_EQ(made.value("name", ""), "keep") << im.out;
  EXPECT_EQ(made.value("state", ""), "created") << im.out;
  EXPECT_EQ(made["labels"].value("tier", ""), "web") << im.out;
  ASSERT_EQ(b.vessel({"start", "keep"}).status, 0) << b.log();
  ASSERT_TRUE(eventually([&] { return in(b, "keep", "cat /runs") == "run\nrun\n"; }))
      << in(b, "keep", "cat /runs") << b.log();
  EXPECT_EQ(in(b, "keep", "cat /kept.txt"), "kept-by-backup\n");
  EXPECT_EQ(in(b, "keep", "busybox readlink /link"), "/kept.txt\n");
  EXPECT_EQ(in(b, "keep", "[ -e /etc/motd ] && echo present || echo deleted"), "deleted\n");

  // Under another name, beside it; the same name again is refused before anything is made.
  auto twice = b.vessel({"import", archive});
  EXPECT_EQ(twice.status, 1);
  EXPECT_NE(twice.err.find("already exists"), std::string::npos) << twice.err;
  EXPECT_NE(twice.err.find("--name"), std::string::npos) << twice.err;
  ASSERT_EQ(b.vessel({"import", "-q", archive, "--name", "keep2"}).status, 0) << b.log();
  EXPECT_EQ(b.vessel_json({"inspect", "keep2"}).value("state", ""), "created");
  expect_nothing_left(b, "keep3");
}

TEST_F(Backup, ABackupCarriesItsImageToAHostWithoutIt) {
  std::string image = make_busybox_image_archive(tmp.path + "/img", R"({"Cmd":["/bin/sh","-c","echo from-image > /made; exec sleep 600"]})");
  ASSERT_EQ(a.vessel({"image", "import", "-q", image, "--name", "carried"}).status, 0) << a.log();
  ASSERT_EQ(a.vessel({"run", "--name", "withimg", "carried"}).status, 0) << a.log();
  ASSERT_TRUE(eventually([&] { return in(a, "withimg", "cat /made") == "from-image\n"; })) << a.log();
  ASSERT_EQ(a.vessel({"stop", "withimg"}).status, 0);
  std::string archive = tmp.path + "/withimg.tar";
  auto ex = a.vessel({"export", "withimg", "-o", archive, "--json"});
  ASSERT_EQ(ex.status, 0) << ex.err << a.log();
  std::set<std::string> files;
  auto summary = json::parse(ex.out).value_or(json::Json::object());
  for (const auto& f : summary["files"]) files.insert(f.value("name", ""));
  EXPECT_EQ(files, (std::set<std::string>{"rootfs-diff.tar", "image.tar"})) << ex.out;
  EXPECT_FALSE(fs::exists(a.state_dir() + "/instances/withimg/backup-image.tar")) << "the saved image is not kept";

  // b has no such image. An import that fails after the image came in takes the image out again.
  ASSERT_TRUE(b.vessel_json({"image", "ls", "--json"}).empty());
  auto no_net = b.vessel({"import", archive, "--network", "nosuchnet"});
  EXPECT_EQ(no_net.status, 1);
  EXPECT_NE(no_net.err.find("nosuchnet"), std::string::npos) << no_net.err;
  EXPECT_TRUE(b.vessel_json({"image", "ls", "--json"}).empty()) << b.log();
  expect_nothing_left(b, "withimg");
  // Then for real: the image arrives with the instance, which runs from it with its changes.
  ASSERT_EQ(b.vessel({"import", "-q", archive}).status, 0) << b.log();
  auto images = b.vessel_json({"image", "ls", "--json"});
  ASSERT_EQ(images.size(), 1u) << images.dump();
  EXPECT_EQ(images[0].value("name", ""), "carried");
  ASSERT_EQ(b.vessel({"start", "withimg"}).status, 0) << b.log();
  ASSERT_TRUE(eventually([&] { return in(b, "withimg", "cat /made") == "from-image\n"; })) << b.log();
  auto busy = b.vessel({"image", "rm", "carried"});
  EXPECT_NE(busy.err.find("used by instance withimg"), std::string::npos) << busy.err;
}

TEST_F(Backup, CorruptTruncatedAndForeignArchivesAreRefusedWithNothingLeft) {
  ASSERT_EQ(a.vessel({"run", "--name", "src", "--rootfs", tmp.path + "/rootfs", "--", "/bin/sh", "-c", kChanger}).status, 0)
      << a.log();
  ASSERT_TRUE(eventually([&] { return in(a, "src", "cat /kept.txt") == "kept-by-backup\n"; }));
  ASSERT_EQ(a.vessel({"stop", "src"}).status, 0);
  std::string archive = tmp.path + "/src.tar";
  ASSERT_EQ(a.vessel({"export", "src", "-o", archive, "-q"}).status, 0) << a.log();
  auto good = read_file(archive);
  ASSERT_TRUE(good);

  auto refused = [&](const std::string& bytes, const char* what, const std::string& says) {
    std::string path = tmp.path + "/bad.tar";
    { std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes; }
    auto r = b.vessel({"import", path, "--name", "bad"});
    EXPECT_EQ(r.status, 1) << what;
    EXPECT_NE(r.err.find(says), std::string::npos) << what << ": " << r.err;
    expect_nothing_left(b, "bad");
  };
  // A byte of the diff changed (the text the container wrote is in it; the manifest, first,
  // holds the command that wrote it).
  std::string corrupt = *good;
  size_t at = corrupt.rfind("kept-by-backup\n");
  ASSERT_NE(at, std::string::npos);
  corrupt[at] = 'K';
  refused(corrupt, "corrupt", "sha256");
  std::string renamed = *good;  // the manifest damaged, still JSON
  size_t name_at = renamed.find("\"name\": \"src\"");
  ASSERT_NE(name_at, std::string::npos);
  renamed[name_at + 9] = 'S';
  refused(renamed, "manifest damaged", "manifest does not match");
  refused(good->substr(0, good->size() / 2), "truncated", "truncated");
  refused("this is not a backup\n", "not a tar", "tar");
  // A tar of something else (an image, a file tree): no manifest first.
  ASSERT_EQ(run({"tar", "-C", tmp.path + "/rootfs", "-cf", tmp.path + "/tree.tar", "etc"}).status, 0);
  refused(*read_file(tmp.path + "/tree.tar"), "a tar without a manifest", "manifest.json");

  // An export of a VM that runs would be refused; of a missing instance, said so.
  auto missing = a.vessel({"export", "nosuch", "-o", tmp.path + "/x.tar"});
  EXPECT_EQ(missing.status, 1);
  EXPECT_NE(missing.err.find("no instance named nosuch"), std::string::npos) << missing.err;
  EXPECT_FALSE(fs::exists(tmp.path + "/x.tar")) << "a failed export leaves no file";
  for (const auto& e : fs::directory_iterator(tmp.path))
    EXPECT_EQ(e.path().filename().string().find(".partial-"), std::string::npos) << e.path();

  // The good archive still imports; with state it needs a checkpoint.
  ASSERT_EQ(b.vessel({"import", archive, "--name", "good"}).status, 0) << b.log();
  auto state = a.vessel({"export", "src", "--with-state", "-o", tmp.path + "/s.tar"});
  EXPECT_EQ(state.status, 1);
  EXPECT_NE(state.err.find("vessel checkpoint src"), std::string::npos) << state.err;
}

TEST_F(Backup, TheRestRoutesStreamTheArchiveAndTakeItAsABody) {
  ASSERT_EQ(a.vessel({"create", "--name", "c", "--rootfs", tmp.path + "/rootfs", "--", "/bin/true"}).status, 0);
  std::string archive = tmp.path + "/c.tar.zst";
  auto got = run({"curl", "-sS", "-D", tmp.path + "/headers", "-o", archive, "--unix-socket", a.socket(),
                  "http://localhost/v1/instances/c/export?compress=zstd"});
  ASSERT_EQ(got.status, 0) << got.err;
  auto headers = read_file(tmp.path + "/headers").value_or("");
  EXPECT_NE(headers.find("X-Vessel-Archive-Size: " + std::to_string(fs::file_size(archive))), std::string::npos)
      << headers;
  auto zstd = run({"zstd", "-t", archive});
  EXPECT_EQ(zstd.status, 0) << "a zstd stream: " << zstd.err;
  // The archive as the body (what a remote client sends), with progress lines.
  auto sent = run({"curl", "-sS", "--unix-socket", b.socket(), "-X", "POST", "-H", "Content-Type: application/x-tar",
                   "--data-binary", "@" + archive, "http://localhost/v1/instances/import?progress=1&name=c2"});
  ASSERT_EQ(sent.status, 0) << sent.err;
  EXPECT_NE(sent.out.find(R"("result")"), std::string::npos) << sent.out;
  EXPECT_EQ(b.vessel_json({"inspect", "c2"}).value("state", ""), "created");
  auto empty = run({"curl", "-sS", "--unix-socket", b.socket(), "-X", "POST", "-H", "Content-Type: application/x-tar",
                    "http://localhost/v1/instances/import"});
  EXPECT_NE(empty.out.find("the body is empty"), std::string::npos) << empty.out;
}

TEST_F(Backup, AScheduleTakesBackupsKeepsTheNewestAndSurvivesARestart) {
  ASSERT_EQ(a.vessel({"run", "--name", "s", "--rootfs", tmp.path + "/rootfs", "--", "/bin/sh", "-c", kChanger}).status, 0)
      << a.log();
  ASSERT_TRUE(eventually([&] { return in(a, "s", "cat /kept.txt") == "kept-by-backup\n"; }));
  std::string dir = tmp.path + "/backups";
  std::ofstream(tmp.path + "/unrelated-20261130T000000Z.tar") << "not s's";
  auto set = a.vessel({"backup", "schedule", "s", "--every", "1s", "--keep", "2", "--dir", dir});
  ASSERT_EQ(set.status, 0) << set.err << a.log();
  EXPECT_NE(set.out.find("every 1s, keeping 2"), std::string::npos) << set.out;
  // Runs every second: after the third, only the newest two are kept.
  std::set<std::string> seen;
  ASSERT_TRUE(eventually([&] {
    auto list = a.vessel_json({"backup", "schedule", "ls", "--json"});
    if (list.size() == 1 && !list[0].value("last_file", "").empty()) seen.insert(list[0].value("last_file", ""));
    return seen.size() >= 3;
  }, 400)) << a.log();
  auto archives = a.vessel_json({"backup", "ls", "s", "--json"});
  ASSERT_EQ(archives.size(), 2u) << archives.dump();
  EXPECT_GT(archives[0].value("file", ""), archives[1].value("file", "")) << "newest first";
  EXPECT_EQ(a.vessel_json({"backup", "schedule", "ls", "--json"})[0].value("last_error", "x"), "");
  // An archive of the schedule imports elsewhere like any export.
  auto im = b.vessel({"import", archives[1].value("path", ""), "--name", "from-schedule"});
  EXPECT_EQ(im.status, 0) << im.err << b.log();

  // Stored: a restarted vesseld still has it; rm stops it, the archives stay.
  EXPECT_EQ(a.stop(SIGTERM).code, 0);
  ASSERT_TRUE(a.start()) << a.log();
  ASSERT_EQ(a.vessel_json({"backup", "schedule", "ls", "--json"}).size(), 1u);
  ASSERT_EQ(a.vessel({"backup", "schedule", "rm", "s"}).status, 0);
  EXPECT_EQ(a.vessel_json({"backup", "schedule", "ls", "--json"}).size(), 0u);
  auto again = a.vessel({"backup", "schedule", "rm", "s"});
  EXPECT_EQ(again.status, 1);
  EXPECT_NE(again.err.find("has no backup schedule"), std::string::npos) << again.err;
  // The archives stay (`backup ls` lists those of schedules only: look in the directory).
  size_t kept = 0;
  for (const auto& e : fs::directory_iterator(dir)) kept += e.path().filename().string().rfind("s-", 0) == 0;
  EXPECT_EQ(kept, 2u);
  EXPECT_EQ(a.vessel_json({"backup", "ls", "--json"}).size(), 0u);
  EXPECT_TRUE(fs::exists(tmp.path + "/unrelated-20261130T000000Z.tar"));
  // Deleting the instance forgets its schedule.
  ASSERT_EQ(a.vessel({"backup", "schedule", "s", "--every", "1h", "--keep", "1", "--dir", dir}).status, 0);
  ASSERT_EQ(a.vessel({"rm", "--force", "s"}).status, 0);
  EXPECT_EQ(a.vessel_json({"backup", "schedule", "ls", "--json"}).size(), 0u);
  auto missing = a.vessel({"backup", "schedule", "nosuch", "--every", "1h", "--keep", "1", "--dir", dir});
  EXPECT_EQ(missing.status, 1);
  EXPECT_NE(missing.err.find("no instance named nosuch"), std::string::npos) << missing.err;
}

}  // namespace
}  // namespace vessel::test
