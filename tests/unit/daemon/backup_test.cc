// Backups (docs/daemon/backup.md): the manifest's checks, file names, and the archive reader
// against corrupt, truncated and hostile archives; each refused one leaves its staging
// directory as the caller made it (files the reader wrote are the caller's to remove) and never
// writes outside it.
#include "daemon/instances/backup_archive.h"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "base/fd.h"
#include "daemon/images/sha256.h"
#include "daemon/instances/backup_schedule.h"
#include "files/tar_unpack.h"
#include "tar_builder.h"

namespace vessel::daemon {
namespace {

namespace fs = std::filesystem;
using test::file;
using test::make_tar;

// The manifest with its manifest_sha256, as an export writes it.
std::string sealed(json::Json m) {
  m.erase("manifest_sha256");
  m["manifest_sha256"] = sha256_hex(json::dump(m));
  return m.dump();
}

std::string manifest_text(const std::vector<std::pair<std::string, std::string>>& files, json::Json extra = {}) {
  json::Json list = json::Json::array();
  for (const auto& [name, content] : files)
    list.push_back({{"name", name}, {"size", content.size()}, {"sha256", sha256_hex(content)}});
  json::Json m = {{"format", "vessel-backup"}, {"version", 1}, {"name", "web"}, {"type", "container"},
                  {"spec", {{"name", "web"}}}, {"files", list}};
  if (extra.is_object()) m.update(extra);
  return sealed(m);
}

// A tar of the manifest then the files, as an export writes it.
std::string backup_tar(const std::vector<std::pair<std::string, std::string>>& files) {
  std::vector<test::TarEntry> entries{file("manifest.json", manifest_text(files))};
  for (const auto& [name, content] : files) entries.push_back(file(name, content));
  return make_tar(entries);
}

struct Staging {
  Staging() {
    char t[] = "/tmp/vessel-backup-test.XXXXXX";
    root = ::mkdtemp(t);
    dir = root + "/staging";
    fs::create_directories(dir);
  }
  ~Staging() { fs::remove_all(root); }
  Result<BackupManifest> unpack(const std::string& tar, const BackupLimits& limits = {}) {
    auto in = TRY(files::open_tar_memory(tar));
    return unpack_backup(in.get(), dir, limits, nullptr);
  }
  // Every file below root but the staging directory's own files.
  std::vector<std::string> outside() const {
    std::vector<std::string> out;
    for (const auto& e : fs::recursive_directory_iterator(root))
      if (e.path().string().rfind(dir, 0) != 0) out.push_back(e.path().string());
    return out;
  }
  std::string root, dir;
};

TEST(BackupManifest, FileNames) {
  for (auto ok : {"rootfs-diff.tar", "disks/image-0.qcow2", "disks/layers/snap1-disk-0.qcow2", "a_b.c-d"})
    EXPECT_TRUE(check_backup_file_name(ok)) << ok;
  for (auto bad : {"", "/etc/passwd", "../x", "a/../b", "a//b", "a/", ".hidden", "a/./b", "a\\b", "a b", "é",
                   "a/b/c/d/e/f/g/h/i"})
    EXPECT_FALSE(check_backup_file_name(bad)) << bad;
  EXPECT_FALSE(check_backup_file_name(std::string(129, 'a')));
  EXPECT_FALSE(check_backup_file_name(std::string_view("a\0b", 3)));
}

TEST(BackupManifest, ParsesWhatItWrites) {
  BackupManifest m;
  m.name = "vm1";
  m.type = "vm";
  m.state = "stopped";
  m.spec = {{"name", "vm1"}, {"type", "vm"}};
  m.image = "deb";
  m.image_digest = "sha256:" + std::string(64, 'a');
  m.files = {{"disks/image-0.qcow2", 10, std::string(64, 'b'), std::nullopt, "disks/layers/l0.qcow2"},
             {"disks/layers/l0.qcow2", 20, std::string(64, 'c'), 0u, ""}};
  auto back = parse_backup_manifest(to_json(m).dump());
  ASSERT_TRUE(back) << back.error().to_string();
  EXPECT_EQ(back->name, "vm1");
  EXPECT_EQ(back->image_digest, m.image_digest);
  ASSERT_EQ(back->files.size(), 2u);
  EXPECT_EQ(back->files[0].backing_file, "disks/layers/l0.qcow2");
  EXPECT_EQ(back->files[1].backing_base, 0u);
  EXPECT_EQ(back->total_bytes(), 30u);
}

TEST(BackupManifest, RefusesWhatIsNotABackupOrTooLarge) {
  auto refused = [](const std::string& text, int errnum) {
    auto m = parse_backup_manifest(text);
    EXPECT_FALSE(m) << text;
    if (!m) {
      EXPECT_EQ(m.error().errnum(), errnum) << m.error().to_string();
    }
  };
  refused("[]", EINVAL);
  refused(R"({"format":"docker","version":1})", EINVAL);
  refused(manifest_text({}, {{"version", 2}}), ENOTSUP);
  refused(manifest_text({}, {{"type", "zone"}}), EINVAL);
  refused(manifest_text({}, {{"spec", "x"}}), EINVAL);
  refused(manifest_text({}, {{"extra", 1}}), EINVAL);
  refused(manifest_text({{"../escape", "x"}}), EINVAL);
  refused(manifest_text({{"manifest.json", "x"}}), EINVAL);
  refused(manifest_text({{"a", "x"}, {"a", "y"}}), EINVAL);
  json::Json huge = json::parse(manifest_text({{"a", "x"}})).value();
  huge["files"][0]["size"] = uint64_t{1} << 60;
  refused(sealed(huge), EFBIG);
  json::Json badsum = json::parse(manifest_text({{"a", "x"}})).value();
  badsum["files"][0]["sha256"] = "ABC";
  refused(sealed(badsum), EINVAL);
  json::Json loop = json::parse(manifest_text({{"a", "x"}, {"b", "y"}})).value();
  loop["files"][0]["backing_file"] = "b";
  loop["files"][1]["backing_file"] = "a";
  refused(sealed(loop), EINVAL);
  json::Json dangling = json::parse(manifest_text({{"a", "x"}})).value();
  dangling["files"][0]["backing_file"] = "missing";
  refused(sealed(dangling), EINVAL);
  // Damaged but still JSON: another name, the seal no longer holds.
  json::Json renamed = json::parse(manifest_text({{"a", "x"}})).value();
  renamed["name"] = "other";
  refused(renamed.dump(), EBADMSG);
}

TEST(BackupArchive, WritesAndReadsBack) {
  Staging s;
  std::ofstream(s.root + "/one") << "first file";
  std::ofstream(s.root + "/two") << std::string(3 << 20, 'z');
  BackupManifest m;
  m.name = "web";
  m.type = "container";
  m.spec = {{"name", "web"}};
  std::vector<BackupPart> parts{{BackupFile{"rootfs-diff.tar"}, s.root + "/one"},
                                {BackupFile{"disks/image-0.qcow2"}, s.root + "/two"}};
  for (bool zstd : {false, true}) {
    std::string archive = s.root + (zstd ? "/b.tar.zst" : "/b.tar");
    {
      Fd out = Fd::open(archive, O_WRONLY | O_CREAT | O_TRUNC, 0600).value();
      auto written = write_backup(out.get(), m, parts, zstd);
      ASSERT_TRUE(written) << written.error().to_string();
      EXPECT_EQ(written->files[1].sha256, sha256_file(s.root + "/two").value());
    }
    fs::remove_all(s.dir);
    fs::create_directories(s.dir);
    Fd in_fd = Fd::open(archive, O_RDONLY).value();
    auto in = files::open_tar_fd(in_fd.get()).value();
    uint64_t last = 0;
    auto read = unpack_backup(in.get(), s.dir, {}, nullptr, [&](uint64_t done, uint64_t) { last = done; });
    ASSERT_TRUE(read) << read.error().to_string();
    EXPECT_EQ(last, (3u << 20) + 10);
    EXPECT_EQ(read_file(s.dir + "/rootfs-diff.tar").value(), "first file");
    EXPECT_EQ(fs::file_size(s.dir + "/disks/image-0.qcow2"), 3u << 20);
  }
}

TEST(BackupArchive, RefusesCorruptTruncatedAndHostileArchives) {
  std::vector<std::pair<std::string, std::string>> files{{"rootfs-diff.tar", "the container's changes"}};
  std::string good = backup_tar(files);
  {
    Staging s;
    ASSERT_TRUE(s.unpack(good));
  }
  auto refused = [](const std::string& tar, const char* what, const std::string& says) {
    Staging s;
    auto r = s.unpack(tar);
    ASSERT_FALSE(r) << what;
    EXPECT_NE(r.error().to_string().find(says), std::string::npos) << what << ": " << r.error().to_string();
    EXPECT_TRUE(s.outside().empty()) << what;
  };
  // A byte of a file changed: its digest no longer holds.
  std::string corrupt = good;
  size_t at = corrupt.find("the container's changes");
  ASSERT_NE(at, std::string::npos);
  corrupt[at] = 'T';
  refused(corrupt, "corrupt", "does not match its sha256");
  // Cut in the middle of the file, and before it.
  refused(good.substr(0, at + 5), "truncated in a file", "truncated");
  refused(make_tar({file("manifest.json", manifest_text(files))}), "a file missing", "missing");
  refused("", "empty", "");
  refused("not a tar at all", "garbage", "tar");
  // The manifest must come first, and name every other entry.
  refused(make_tar({file("rootfs-diff.tar", "x"), file("manifest.json", manifest_text(files))}), "manifest second",
          "first entry");
  refused(make_tar({file("manifest.json", manifest_text(files)), file("rootfs-diff.tar", files[0].second),
                    file("../../escape", "x")}),
          "an entry that climbs", "does not name");
  refused(make_tar({file("manifest.json", manifest_text(files)), test::symlink("rootfs-diff.tar", "/etc/passwd")}),
          "a symlink", "not a regular file");
  refused(make_tar({file("manifest.json", manifest_text(files)), test::hardlink("rootfs-diff.tar", "/etc/passwd")}),
          "a hardlink", "not a regular file");
  refused(make_tar({file("manifest.json", manifest_text(files)), file("rootfs-diff.tar", files[0].second),
                    file("rootfs-diff.tar", files[0].second)}),
          "a file twice", "twice");
  refused(make_tar({file("manifest.json", manifest_text(files)), file("rootfs-diff.tar", "short")}), "wrong size",
          "size");
  // A manifest over the limits is refused before any file is read.
  Staging s;
  BackupLimits small;
  small.max_total_bytes = 4;
  auto r = s.unpack(good, small);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().errnum(), EFBIG);
  EXPECT_TRUE(fs::is_empty(s.dir));
}

TEST(BackupArchive, RefusesAManifestLargerThanTheFreeSpace) {
  std::vector<std::pair<std::string, std::string>> files{{"rootfs-diff.tar", "x"}};
  json::Json m = json::parse(manifest_text(files)).value();
  m["files"][0]["size"] = uint64_t{1} << 41;  // 2 TiB: within the limits, beyond /tmp's room
  std::string tar = make_tar({file("manifest.json", sealed(m)), file("rootfs-diff.tar", "x")});
  Staging s;
  auto r = s.unpack(tar);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().errnum(), ENOSPC) << r.error().to_string();
  EXPECT_TRUE(fs::is_empty(s.dir));
}

TEST(BackupSchedule, ParsesAndRefuses) {
  auto s = parse_backup_schedule_text(R"({"every_s": 3600, "keep": 24, "dir": "/var/backups", "compress": "zstd"})");
  ASSERT_TRUE(s) << s.error().to_string();
  EXPECT_EQ(s->every_s, 3600u);
  EXPECT_EQ(s->keep, 24u);
  EXPECT_TRUE(s->zstd);
  EXPECT_EQ(parse_backup_schedule(to_json(*s)).value().dir, "/var/backups");
  for (auto bad : {R"({"every_s": 0, "keep": 1, "dir": "/x"})", R"({"every_s": 1, "keep": 0, "dir": "/x"})",
                   R"({"every_s": 1, "keep": 1, "dir": "relative"})", R"({"every_s": 1, "keep": 1})",
                   R"({"every_s": 99999999999, "keep": 1, "dir": "/x"})", R"({"every_s": 1, "keep": 1, "dir": "/x", "cron": 1})",
                   R"({"every_s": 1, "keep": 1, "dir": "/x", "compress": "xz"})", "[]", "{"})
    EXPECT_FALSE(parse_backup_schedule_text(bad)) << bad;
}

TEST(BackupSchedule, NamesSortInTimeAndRetentionKeepsTheNewest) {
  EXPECT_EQ(backup_file_name("web", 1796000000, false), "web-20261130T005320Z.tar");
  EXPECT_EQ(backup_file_name("web", 1796000000, true), "web-20261130T005320Z.tar.zst");
  EXPECT_TRUE(is_backup_file_of("web-20261130T005320Z.tar", "web"));
  EXPECT_TRUE(is_backup_file_of("web-20261130T005320Z.tar.zst", "web"));
  for (auto other : {"web-2-20261130T015320Z.tar", "web-20261130T005320Z.tar.partial", ".web-20261130T005320Z.tar.partial",
                     "web-2026113XT015320Z.tar", "web.tar", "webby-20261130T015320Z.tar", "web-20261130T005320Z"})
    EXPECT_FALSE(is_backup_file_of(other, "web")) << other;
  std::vector<std::string> dir{"web-20261130T000003Z.tar", "web-20261130T000001Z.tar.zst", "notes.txt",
                               "web-2-20261130T000000Z.tar", "web-20261130T000002Z.tar"};
  EXPECT_EQ(backups_beyond(dir, "web", 2), std::vector<std::string>{"web-20261130T000001Z.tar.zst"});
  EXPECT_EQ(backups_beyond(dir, "web", 1),
            (std::vector<std::string>{"web-20261130T000001Z.tar.zst", "web-20261130T000002Z.tar"}));
  EXPECT_TRUE(backups_beyond(dir, "web", 3).empty());
  EXPECT_EQ(backups_beyond(dir, "web-2", 0), std::vector<std::string>{"web-2-20261130T000000Z.tar"});
}

}  // namespace
}  // namespace vessel::daemon
