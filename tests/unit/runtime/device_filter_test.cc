// The cgroup v2 device program: generated instructions run through a small interpreter of the eBPF
// subset the generator uses, and compared with a plain reading of the rules (last match wins, per
// access; default deny) on every type, a spread of majors and minors and every access mask.
#include <gtest/gtest.h>

#include <random>

#include "runtime/cgroups/device_filter.h"

namespace vessel::runtime {
namespace {

constexpr uint32_t R = BPF_DEVCG_ACC_READ, W = BPF_DEVCG_ACC_WRITE, M = BPF_DEVCG_ACC_MKNOD;
constexpr uint32_t kBlock = BPF_DEVCG_DEV_BLOCK, kChar = BPF_DEVCG_DEV_CHAR;

DeviceRule rule(bool allow, const char* type, std::optional<int64_t> major, std::optional<int64_t> minor,
                const char* access) {
  return DeviceRule{allow, type, major, minor, access};
}

// Runs the program on one request, the way the kernel would: r1 points at bpf_cgroup_dev_ctx.
// Every instruction must be one the interpreter knows and every jump must go forward.
int run(const std::vector<bpf_insn>& prog, uint32_t type, uint32_t major, uint32_t minor, uint32_t access) {
  uint32_t ctx[3] = {(access << 16) | type, major, minor};
  uint64_t reg[11] = {};
  for (size_t pc = 0; pc < prog.size(); ++pc) {
    const bpf_insn& i = prog[pc];
    uint64_t& d = reg[i.dst_reg];
    auto imm64 = static_cast<uint64_t>(static_cast<int64_t>(i.imm));
    switch (i.code) {
      case BPF_LDX | BPF_W | BPF_MEM:
        EXPECT_EQ(i.src_reg, BPF_REG_1);
        EXPECT_TRUE(i.off == 0 || i.off == 4 || i.off == 8) << i.off;
        d = ctx[i.off / 4];
        break;
      case BPF_ALU | BPF_AND | BPF_K: d = static_cast<uint32_t>(d) & static_cast<uint32_t>(i.imm); break;
      case BPF_ALU | BPF_RSH | BPF_K: d = static_cast<uint32_t>(d) >> i.imm; break;
      case BPF_ALU | BPF_MOV | BPF_X: d = static_cast<uint32_t>(reg[i.src_reg]); break;
      case BPF_ALU64 | BPF_MOV | BPF_K: d = imm64; break;
      case BPF_JMP | BPF_JA: EXPECT_GE(i.off, 0); pc += i.off; break;
      case BPF_JMP | BPF_JEQ | BPF_K: EXPECT_GE(i.off, 0); if (d == imm64) pc += i.off; break;
      case BPF_JMP | BPF_JNE | BPF_K: EXPECT_GE(i.off, 0); if (d != imm64) pc += i.off; break;
      case BPF_JMP | BPF_EXIT: return static_cast<int>(reg[0]);
      default: ADD_FAILURE() << "unexpected instruction code " << int(i.code) << " at " << pc; return -1;
    }
  }
  ADD_FAILURE() << "ran off the end of the program";
  return -1;
}

// The rules read plainly: for each asked-for access, the last rule naming it and matching decides.
int expected(const std::vector<DeviceRule>& rules, uint32_t type, uint32_t major, uint32_t minor, uint32_t access) {
  for (uint32_t bit : {R, W, M}) {
    if (!(access & bit)) continue;
    char letter = bit == R ? 'r' : bit == W ? 'w' : 'm';
    bool allowed = false;
    for (auto it = rules.rbegin(); it != rules.rend(); ++it) {
      bool type_ok = it->type == "a" || (it->type == "b") == (type == kBlock);
      bool major_ok = !it->major || *it->major < 0 || *it->major == major;
      bool minor_ok = !it->minor || *it->minor < 0 || *it->minor == minor;
      if (type_ok && major_ok && minor_ok && it->access.find(letter) != std::string::npos) {
        allowed = it->allow;
        break;
      }
    }
    if (!allowed) return 0;
  }
  return 1;
}

void check_everything(const std::vector<DeviceRule>& rules) {
  auto prog = device_filter_program(rules);
  ASSERT_TRUE(prog) << prog.error().to_string();
  for (uint32_t type : {kBlock, kChar})
    for (uint32_t major : {0u, 1u, 5u, 7u, 8u, 136u, 254u})
      for (uint32_t minor : {0u, 1u, 3u, 5u, 9u, 200u})
        for (uint32_t access = 1; access <= 7; ++access)
          ASSERT_EQ(run(*prog, type, major, minor, access), expected(rules, type, major, minor, access))
              << "type " << type << " " << major << ":" << minor << " access " << access;
}

// vesseld's rules (Docker's): deny all, mknod of any node, the usual character devices.
std::vector<DeviceRule> docker_like() {
  return {rule(false, "a", {}, {}, "rwm"),    rule(true, "c", {}, {}, "m"),     rule(true, "b", {}, {}, "m"),
          rule(true, "c", 1, 3, "rwm"),       rule(true, "c", 1, 5, "rwm"),     rule(true, "c", 5, 0, "rwm"),
          rule(true, "c", 136, {}, "rwm"),    rule(true, "c", 10, 200, "rwm")};
}

TEST(DeviceFilter, DockerLikeRulesAllowMknodAndTheUsualDevicesOnly) {
  auto prog = device_filter_program(docker_like());
  ASSERT_TRUE(prog) << prog.error().to_string();
  EXPECT_EQ(run(*prog, kBlock, 254, 0, M), 1) << "mknod of a disk node is allowed";
  EXPECT_EQ(run(*prog, kBlock, 254, 0, R), 0) << "opening it is not";
  EXPECT_EQ(run(*prog, kBlock, 7, 0, R | W), 0);
  EXPECT_EQ(run(*prog, kChar, 1, 1, R), 0) << "/dev/mem";
  EXPECT_EQ(run(*prog, kChar, 1, 3, R | W), 1) << "/dev/null";
  EXPECT_EQ(run(*prog, kChar, 136, 4, R | W), 1) << "a pty, any minor";
  check_everything(docker_like());
}

TEST(DeviceFilter, LastMatchingRuleWinsPerAccess) {
  // Allowed, then its write taken back: read stays, read+write is denied.
  std::vector<DeviceRule> rules = {rule(false, "a", {}, {}, "rwm"), rule(true, "c", 1, 3, "rwm"),
                                   rule(false, "c", 1, 3, "w")};
  auto prog = device_filter_program(rules);
  ASSERT_TRUE(prog);
  EXPECT_EQ(run(*prog, kChar, 1, 3, R), 1);
  EXPECT_EQ(run(*prog, kChar, 1, 3, R | W), 0);
  // Read and write allowed by two rules: together they allow read+write (as cgroup v1 does).
  rules = {rule(false, "a", {}, {}, "rwm"), rule(true, "c", 1, 5, "r"), rule(true, "c", 1, 5, "w")};
  prog = device_filter_program(rules);
  ASSERT_TRUE(prog);
  EXPECT_EQ(run(*prog, kChar, 1, 5, R | W), 1);
  EXPECT_EQ(run(*prog, kChar, 1, 5, M), 0);
  check_everything(rules);
}

TEST(DeviceFilter, AllowAllAndDenyAllAndNoRules) {
  auto all = device_filter_program({rule(true, "a", {}, {}, "rwm")});
  ASSERT_TRUE(all);
  EXPECT_EQ(run(*all, kBlock, 8, 0, R | W | M), 1);
  // An allow-all first, then a hole: the hole is denied, the rest allowed (runc's blacklist mode).
  std::vector<DeviceRule> hole = {rule(true, "a", {}, {}, "rwm"), rule(false, "b", 8, {}, "rw")};
  auto p = device_filter_program(hole);
  ASSERT_TRUE(p);
  EXPECT_EQ(run(*p, kBlock, 8, 1, R), 0);
  EXPECT_EQ(run(*p, kBlock, 8, 1, M), 1);
  EXPECT_EQ(run(*p, kBlock, 9, 1, R), 1);
  check_everything(hole);
  auto none = device_filter_program({});
  ASSERT_TRUE(none);
  EXPECT_EQ(run(*none, kChar, 1, 3, R), 0) << "no rule: the default is deny";
  // A deny-all last overrides everything before it; the rules before it emit no code.
  auto last = device_filter_program({rule(true, "c", 1, 3, "rwm"), rule(false, "a", {}, {}, "rwm")});
  ASSERT_TRUE(last);
  EXPECT_EQ(run(*last, kChar, 1, 3, R), 0);
  EXPECT_LT(last->size(), none->size() + 6);
}

TEST(DeviceFilter, RandomRuleSetsMatchThePlainReading) {
  std::mt19937 rng(42);
  const char* types[] = {"a", "b", "c"};
  const char* accesses[] = {"r", "w", "m", "rw", "rm", "wm", "rwm"};
  std::optional<int64_t> majors[] = {std::nullopt, -1, 1, 5, 7, 8, 254};
  std::optional<int64_t> minors[] = {std::nullopt, -1, 0, 1, 3, 200};
  for (int round = 0; round < 200; ++round) {
    std::vector<DeviceRule> rules;
    size_t n = rng() % 12;
    for (size_t i = 0; i < n; ++i)
      rules.push_back(rule(rng() % 2, types[rng() % 3], majors[rng() % 7], minors[rng() % 6], accesses[rng() % 7]));
    check_everything(rules);
    if (HasFatalFailure()) return;
  }
}

TEST(DeviceFilter, RefusesWhatItCannotExpress) {
  auto big = device_filter_program({rule(true, "c", int64_t{1} << 32, 0, "r")});
  ASSERT_FALSE(big);
  EXPECT_NE(big.error().to_string().find("devices[0].major"), std::string::npos) << big.error().to_string();
  EXPECT_FALSE(device_filter_program({rule(true, "x", 1, 0, "r")}));
  EXPECT_FALSE(device_filter_program({rule(true, "c", 1, 0, "rq")}));
  std::vector<DeviceRule> many(kMaxDeviceRules + 1, rule(true, "c", 1, 3, "r"));
  EXPECT_FALSE(device_filter_program(many));
  many.pop_back();
  auto most = device_filter_program(many);
  ASSERT_TRUE(most);
  EXPECT_EQ(run(*most, kChar, 1, 3, R), 1);
}

}  // namespace
}  // namespace vessel::runtime
