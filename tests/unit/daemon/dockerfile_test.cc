// The Dockerfile parser and word processing against the Dockerfile reference's own examples.
#include <gtest/gtest.h>

#include "daemon/images/dockerfile.h"
#include "daemon/images/dockerfile_words.h"

namespace vessel::daemon::dockerfile {
namespace {

using Strings = std::vector<std::string>;

std::string error_of(std::string_view text) {
  auto d = parse(text);
  return d ? std::string("(parsed)") : d.error().to_string();
}

TEST(Dockerfile, StagesInstructionsAndForms) {
  auto d = parse(
      "# syntax=docker/dockerfile:1\n"
      "ARG BASE=busybox\n"
      "FROM ${BASE} AS build\n"
      "WORKDIR /src\n"
      "RUN echo hello > /out\n"
      "\n"
      "# a comment\n"
      "from scratch\n"
      "COPY --from=build --chown=1:1 /out /out\n"
      "CMD [\"cat\", \"/out\"]\n");
  ASSERT_TRUE(d) << d.error().to_string();
  EXPECT_EQ(d->syntax, "docker/dockerfile:1");
  ASSERT_EQ(d->global_args.size(), 1u);
  EXPECT_EQ(d->global_args[0].args, "BASE=busybox");
  ASSERT_EQ(d->stages.size(), 2u);
  EXPECT_EQ(d->stages[0].base, "${BASE}");
  EXPECT_EQ(d->stages[0].name, "build");
  ASSERT_EQ(d->stages[0].instructions.size(), 2u);
  const auto& run = d->stages[0].instructions[1];
  EXPECT_EQ(run.keyword, "RUN");
  EXPECT_EQ(run.args, "echo hello > /out");
  EXPECT_FALSE(run.exec);
  EXPECT_EQ(run.at.line, 5);
  EXPECT_EQ(run.at.column, 1);
  EXPECT_EQ(d->stages[1].from.keyword, "FROM");  // keywords are case-insensitive
  EXPECT_EQ(d->stages[1].name, "");
  const auto& copy = d->stages[1].instructions[0];
  EXPECT_EQ(copy.flag("from").value_or("?"), "build");
  EXPECT_EQ(copy.flag("chown").value_or("?"), "1:1");
  EXPECT_FALSE(copy.flag("chmod"));
  EXPECT_EQ(copy.args, "/out /out");
  const auto& cmd = d->stages[1].instructions[1];
  ASSERT_TRUE(cmd.exec);
  EXPECT_EQ(*cmd.exec, (Strings{"cat", "/out"}));
  EXPECT_EQ(d->target("").value_or(9), 1u);
  EXPECT_EQ(d->target("BUILD").value_or(9), 0u);
  EXPECT_FALSE(d->target("missing"));
}

TEST(Dockerfile, ContinuationsSkipCommentsAndEmptyLines) {
  auto d = parse("FROM busybox\nRUN echo a && \\\n# inside\n\n    echo b\nCMD x\n");
  ASSERT_TRUE(d) << d.error().to_string();
  ASSERT_EQ(d->stages[0].instructions.size(), 2u);
  EXPECT_EQ(d->stages[0].instructions[0].args, "echo a &&     echo b");
  EXPECT_EQ(d->stages[0].instructions[1].at.line, 6);
}

TEST(Dockerfile, EscapeDirectiveMakesTheBacktickTheContinuation) {
  auto d = parse("# escape=`\nFROM windows\nCOPY testfile.txt c:\\ `\n  d:\\\n");
  ASSERT_TRUE(d) << d.error().to_string();
  EXPECT_EQ(d->escape, '`');
  EXPECT_EQ(d->stages[0].instructions[0].args, "testfile.txt c:\\   d:\\");
}

TEST(Dockerfile, DirectivesOnlyCountAtTheTop) {
  auto d = parse("FROM busybox\n# escape=`\nRUN a \\\n b\n");
  ASSERT_TRUE(d) << d.error().to_string();
  EXPECT_EQ(d->escape, '\\');
  EXPECT_EQ(d->stages[0].instructions[0].args, "a  b");
  EXPECT_NE(error_of("# escape=\\\n# escape=`\nFROM x\n").find("given twice"), std::string::npos);
  EXPECT_NE(error_of("# escape=x\nFROM x\n").find("invalid escape character"), std::string::npos);
}

TEST(Dockerfile, ExecFormOnlyForAJsonArrayOfStrings) {
  auto d = parse("FROM x\nRUN [\"a\", \"b c\"]\nRUN [not json]\nENTRYPOINT [\"sh\", 1]\nSHELL [\"/bin/bash\", \"-c\"]\n");
  ASSERT_TRUE(d) << d.error().to_string();
  const auto& in = d->stages[0].instructions;
  EXPECT_EQ(*in[0].exec, (Strings{"a", "b c"}));
  EXPECT_FALSE(in[1].exec);
  EXPECT_EQ(in[1].args, "[not json]");
  EXPECT_FALSE(in[2].exec);
  EXPECT_EQ(*in[3].exec, (Strings{"/bin/bash", "-c"}));
  EXPECT_NE(error_of("FROM x\nSHELL /bin/sh -c\n").find("SHELL takes a JSON array"), std::string::npos);
}

TEST(Dockerfile, HealthcheckAndOnbuild) {
  auto d = parse(
      "FROM x\nHEALTHCHECK --interval=5m --timeout=3s CMD curl -f http://localhost/ || exit 1\n"
      "HEALTHCHECK NONE\nONBUILD RUN make\n");
  ASSERT_TRUE(d) << d.error().to_string();
  const auto& in = d->stages[0].instructions;
  EXPECT_EQ(in[0].sub, "CMD");
  EXPECT_EQ(in[0].flag("interval").value_or(""), "5m");
  EXPECT_EQ(in[0].args, "curl -f http://localhost/ || exit 1");
  EXPECT_EQ(in[1].sub, "NONE");
  ASSERT_EQ(in[2].trigger.size(), 1u);
  EXPECT_EQ(in[2].trigger[0].keyword, "RUN");
  EXPECT_EQ(in[2].trigger[0].args, "make");
  EXPECT_NE(error_of("FROM x\nHEALTHCHECK CMD\n").find("needs a command"), std::string::npos);
  EXPECT_NE(error_of("FROM x\nHEALTHCHECK --retries=3 NONE\n").find("NONE takes no"), std::string::npos);
  EXPECT_NE(error_of("FROM x\nONBUILD ONBUILD RUN x\n").find("cannot trigger ONBUILD"), std::string::npos);
}

TEST(Dockerfile, ErrorsNameTheLineAndColumn) {
  EXPECT_NE(error_of("FROM x\n\n   FORM y\n").find("line 3, column 4: unknown instruction FORM"), std::string::npos)
      << error_of("FROM x\n\n   FORM y\n");
  EXPECT_NE(error_of("RUN x\nFROM y\n").find("line 1, column 1: RUN before the first FROM"), std::string::npos);
  EXPECT_NE(error_of("FROM x\nCOPY --form=a b c\n").find("line 2, column 1: COPY has no flag --form"), std::string::npos);
  EXPECT_NE(error_of("FROM x\nRUN\n").find("RUN needs arguments"), std::string::npos);
  EXPECT_NE(error_of("FROM a AS b c\n").find("FROM takes an image"), std::string::npos);
  EXPECT_NE(error_of("FROM a AS 1b\n").find("invalid stage name"), std::string::npos);
  EXPECT_NE(error_of("FROM a AS b\nFROM c AS B\n").find("used twice"), std::string::npos);
  EXPECT_NE(error_of("# only a comment\n").find("no FROM"), std::string::npos);
  EXPECT_NE(error_of(std::string("FROM x\0", 7)).find("NUL"), std::string::npos);
}

TEST(DockerfileWords, QuotesEscapesAndVariables) {
  Vars vars{{"a", "x y"}, {"empty", ""}, {"n", "1"}};
  auto w = words("$a '$a' \"$a\" \\$a ${n}b $ ${missing}z", vars);
  ASSERT_TRUE(w) << w.error().to_string();
  EXPECT_EQ(*w, (Strings{"x", "y", "$a", "x y", "$a", "1b", "$", "z"}));
  EXPECT_EQ(word("  keep  $n  ", vars).value_or("?"), "  keep  1  ");
}

TEST(DockerfileWords, Modifiers) {
  Vars vars{{"set", "v"}, {"empty", ""}};
  auto w = [&](std::string_view t) { return word(t, vars).value_or("<error>"); };
  EXPECT_EQ(w("${set:-d}"), "v");
  EXPECT_EQ(w("${empty:-d}"), "d");
  EXPECT_EQ(w("${empty-d}"), "");
  EXPECT_EQ(w("${unset-d}"), "d");
  EXPECT_EQ(w("${set:+alt}"), "alt");
  EXPECT_EQ(w("${empty:+alt}"), "");
  EXPECT_EQ(w("${empty+alt}"), "alt");
  EXPECT_EQ(w("${unset:-${set:-no}x}"), "vx");
  EXPECT_EQ(w("${unset:-'}'}"), "}");
  auto missing = word("${unset:?the base image}", vars);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().to_string().find("unset: the base image"), std::string::npos);
  EXPECT_FALSE(word("${unterminated", vars));
  EXPECT_FALSE(word("${set#prefix}", vars));
  EXPECT_FALSE(word("'open", vars));
  EXPECT_FALSE(word("\"open", vars));
  EXPECT_FALSE(word("${1bad}", vars));
  std::string deep;
  for (int i = 0; i < 40; ++i) deep += "${u:-";
  deep += "x" + std::string(40, '}');
  EXPECT_FALSE(word(deep, vars)) << "nesting is bounded";
}

TEST(DockerfileWords, KeyValues) {
  auto d = parse("FROM x\nENV a=1 b=\"two words\" c=$v\nENV legacy some value $v\nARG name\nARG other=d\nLABEL \"k\"=v oops\n");
  ASSERT_TRUE(d) << d.error().to_string();
  const auto& in = d->stages[0].instructions;
  Vars vars{{"v", "V"}};
  auto env = key_values(in[0], vars);
  ASSERT_TRUE(env) << env.error().to_string();
  ASSERT_EQ(env->size(), 3u);
  EXPECT_EQ((*env)[1].key, "b");
  EXPECT_EQ((*env)[1].value.value_or(""), "two words");
  EXPECT_EQ((*env)[2].value.value_or(""), "V");
  auto legacy = key_values(in[1], vars);
  ASSERT_TRUE(legacy);
  EXPECT_EQ((*legacy)[0].key, "legacy");
  EXPECT_EQ((*legacy)[0].value.value_or(""), "some value V");
  auto arg = key_values(in[2], vars);
  ASSERT_TRUE(arg);
  EXPECT_FALSE((*arg)[0].value);
  EXPECT_EQ(key_values(in[3], vars).value()[0].value.value_or(""), "d");
  auto label = key_values(in[4], vars);
  ASSERT_FALSE(label);
  EXPECT_NE(label.error().to_string().find("'oops' is not name=value"), std::string::npos);
}

}  // namespace
}  // namespace vessel::daemon::dockerfile
