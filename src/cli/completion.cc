// Bash completion for vessel: verbs, flags, and instance/image names asked of vesseld.
#include "cli/commands.h"

namespace vessel::cli {

const char* bash_completion() {
  return R"BASH(# bash completion for vessel (install: vessel completion bash > /usr/share/bash-completion/completions/vessel)
_vessel_instances() { vessel ls --json 2>/dev/null | sed -n 's/^    "name": "\(.*\)",$/\1/p'; }
_vessel_images() { vessel image ls --json 2>/dev/null | sed -n 's/^    "name": "\(.*\)",$/\1/p'; }
_vessel() {
  local cur prev verbs
  cur="${COMP_WORDS[COMP_CWORD]}"
  prev="${COMP_WORDS[COMP_CWORD-1]}"
  verbs="run create start stop restart pause resume rm ls ps inspect logs exec console top stats events image host completion"
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W "$verbs --socket --help" -- "$cur")); return
  fi
  case "${COMP_WORDS[1]}" in
    start|stop|restart|pause|resume|rm|delete|inspect|logs|exec|console|top|stats)
      if [[ "$cur" == -* ]]; then
        COMPREPLY=($(compgen -W "--help --force --timeout --follow --json" -- "$cur"))
      else
        COMPREPLY=($(compgen -W "$(_vessel_instances)" -- "$cur"))
      fi ;;
    run|create)
      case "$prev" in
        --rootfs|--kernel|--initramfs|--disk) COMPREPLY=($(compgen -f -- "$cur")); return ;;
      esac
      if [[ "$cur" == -* ]]; then
        COMPREPLY=($(compgen -W "--vm --name --rootfs --kernel --initramfs --cmdline --cpus --memory --cpu-reservation --memory-reservation --cpu-weight --stop-timeout --env --label --disk --attach --help" -- "$cur"))
      else
        COMPREPLY=($(compgen -W "$(_vessel_images)" -- "$cur"))
      fi ;;
    image)
      if [ "$COMP_CWORD" -eq 2 ]; then COMPREPLY=($(compgen -W "import ls inspect rm" -- "$cur"))
      elif [ "${COMP_WORDS[2]}" = import ]; then COMPREPLY=($(compgen -f -- "$cur"))
      else COMPREPLY=($(compgen -W "$(_vessel_images)" -- "$cur")); fi ;;
    host) COMPREPLY=($(compgen -W "check --json" -- "$cur")) ;;
    ls|ps) COMPREPLY=($(compgen -W "--json" -- "$cur")) ;;
  esac
}
complete -F _vessel vessel
)BASH";
}

}  // namespace vessel::cli
