# The gtest failure messages of each failed test in a ctest log (--output-on-failure), a few lines
# each, for the summary at the end of scripts/test.sh: CI shows only the tail of the output.
function strip(s) { sub(/^\[kvm-host [0-9]+\] /, "", s); return s }
{
  line = strip($0)
  if (line ~ /^[0-9]+% tests passed/) { name = ""; next }
  if (line ~ /^ *Start [0-9]+: / || line ~ /^[0-9]+\/[0-9]+ Test +#/ || line ~ /^ +Test +#/) {
    name = ""
    if (line ~ /\*\*\*(Failed|Timeout|Exception)|Failed +[0-9.]+ sec/) {
      name = line; sub(/^[0-9\/ ]*Test +#/, "#", name); sub(/ \.\.\..*/, "", name); kept = 0; after = 0
      print "--- " name
    }
    next
  }
  if (name == "" || kept >= 40) next
  if (line ~ /: Failure$/ || line ~ /^\[  FAILED  \]/ || line ~ /(AddressSanitizer|runtime error|Timeout|terminate called)/) after = 10
  if (after > 0) { print "    " line; kept++; after-- }
}
