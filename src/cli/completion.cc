// Bash completion for vessel: verbs, flags, and instance/image names asked of vesseld.
#include "cli/commands.h"

namespace vessel::cli {

const char* bash_completion() {
  return R"BASH(# bash completion for vessel (install: vessel completion bash > /usr/share/bash-completion/completions/vessel)
_vessel_instances() { vessel "${g[@]}" ls -a --json 2>/dev/null | sed -n 's/^    "name": "\(.*\)",$/\1/p'; }
_vessel_images() { vessel "${g[@]}" image ls --json 2>/dev/null | sed -n 's/^    "name": "\(.*\)",$/\1/p'; }
_vessel_networks() { vessel "${g[@]}" network ls --json 2>/dev/null | sed -n 's/^    "name": "\(.*\)",\?$/\1/p'; }
_vessel_volumes() { vessel "${g[@]}" volume ls --quiet 2>/dev/null; }
_vessel_trusted() { vessel "${g[@]}" trust ls --json 2>/dev/null | sed -n 's/^    "name": "\(.*\)",\?$/\1/p'; }
_vessel() {
  # g: the global options given (--socket S, --remote URL ...), passed on when names are asked for.
  local cur prev verbs globals i v=0 g=()
  cur="${COMP_WORDS[COMP_CWORD]}"
  prev="${COMP_WORDS[COMP_CWORD-1]}"
  verbs="run create start stop kill attach restart pause resume suspend checkpoint restore migrate export import backup rm ls ps inspect logs exec cp build console wait top stats events image trust host completion network port snapshot pool policy bench volume login logout cluster"
  globals="--socket --remote --client-cert --client-key --server-fingerprint --server-ca"
  # The verb is the first word that is neither a global option nor its value.
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "${COMP_WORDS[i]}" in
      --socket|--remote|--client-cert|--client-key|--server-fingerprint|--server-ca) g+=("${COMP_WORDS[i]}" "${COMP_WORDS[i+1]}"); ((i++)) ;;
      --socket=*|--remote=*|--client-cert=*|--client-key=*|--server-fingerprint=*|--server-ca=*) g+=("${COMP_WORDS[i]}") ;;
      -*) ;;
      *) v=$i; break ;;
    esac
  done
  if [ "$v" -eq 0 ]; then
    case "$prev" in
      --socket|--client-cert|--client-key|--server-ca) COMPREPLY=($(compgen -f -- "$cur")); return ;;
      --remote|--server-fingerprint) return ;;
    esac
    COMPREPLY=($(compgen -W "$verbs $globals --help" -- "$cur")); return
  fi
  local sub="${COMP_WORDS[v+1]}" at=$((COMP_CWORD - v))
  case "${COMP_WORDS[v]}" in
    start|stop|kill|attach|restart|pause|resume|suspend|checkpoint|restore|migrate|export|rm|delete|inspect|logs|exec|console|wait|top|stats|port)
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
        COMPREPLY=($(compgen -W "--vm --name --rootfs --kernel --initramfs --cmdline --cpus --memory --cpu-reservation --memory-reservation --cpu-weight --stop-timeout --env --label --disk --privileged --cap-add --cap-drop --security-opt --pids-limit --userns --network --publish --volume --mount --tmpfs --attach --sig-proxy --help" -- "$cur"))
      else
        COMPREPLY=($(compgen -W "$(_vessel_images)" -- "$cur"))
      fi ;;
    image)
      if [ "$at" -eq 1 ]; then COMPREPLY=($(compgen -W "pull push import save tag ls inspect rm" -- "$cur"))
      elif [ "$sub" = import ] && [[ "$cur" == -* ]]; then
        COMPREPLY=($(compgen -W "--name --vm --kernel --initramfs --cmdline --disk --quiet --help" -- "$cur"))
      elif [ "$sub" = import ]; then COMPREPLY=($(compgen -f -- "$cur"))
      elif [ "$sub" = ls ]; then COMPREPLY=($(compgen -W "--json" -- "$cur"))
      else COMPREPLY=($(compgen -W "$(_vessel_images)" -- "$cur")); fi ;;
    trust)
      if [ "$at" -eq 1 ]; then COMPREPLY=($(compgen -W "add ls rm" -- "$cur"))
      elif [ "$sub" = add ]; then
        if [[ "$cur" == -* ]]; then COMPREPLY=($(compgen -W "--name" -- "$cur")); else COMPREPLY=($(compgen -f -- "$cur")); fi
      elif [ "$sub" = ls ]; then COMPREPLY=($(compgen -W "--json" -- "$cur"))
      elif [ "$sub" = rm ]; then COMPREPLY=($(compgen -W "$(_vessel_trusted)" -- "$cur")); fi ;;
    snapshot)
      if [ "$at" -eq 1 ]; then COMPREPLY=($(compgen -W "create ls restore rm" -- "$cur"))
      elif [ "$at" -eq 2 ]; then COMPREPLY=($(compgen -W "$(_vessel_instances)" -- "$cur"))
      elif [ "$sub" = create ]; then COMPREPLY=($(compgen -W "--no-memory --help" -- "$cur"))
      elif [ "$sub" = ls ]; then COMPREPLY=($(compgen -W "--json" -- "$cur")); fi ;;
    host) COMPREPLY=($(compgen -W "check --json" -- "$cur")) ;;
    bench)
      if [ "$at" -eq 1 ]; then COMPREPLY=($(compgen -W "overhead" -- "$cur"))
      elif [ "$prev" = --rootfs ] || [ "$prev" = --guest ] || [ "$prev" = --workload-program ]; then COMPREPLY=($(compgen -f -- "$cur"))
      else COMPREPLY=($(compgen -W "--workloads --in --runs --scale --image --rootfs --guest --memory --cpus --boot-timeout --workload-program --json --help" -- "$cur")); fi ;;
    network)
      if [ "$at" -eq 1 ]; then COMPREPLY=($(compgen -W "create ls inspect rm" -- "$cur"))
      elif [ "$sub" = create ]; then COMPREPLY=($(compgen -W "--subnet --gateway --internal --help" -- "$cur"))
      elif [ "$sub" = ls ]; then COMPREPLY=($(compgen -W "--json" -- "$cur"))
      else COMPREPLY=($(compgen -W "$(_vessel_networks)" -- "$cur")); fi ;;
    volume)
      if [ "$at" -eq 1 ]; then COMPREPLY=($(compgen -W "create ls inspect rm prune" -- "$cur"))
      elif [ "$sub" = create ]; then COMPREPLY=($(compgen -W "--label --help" -- "$cur"))
      elif [ "$sub" = ls ]; then COMPREPLY=($(compgen -W "--json --quiet" -- "$cur"))
      elif [ "$sub" = prune ]; then COMPREPLY=($(compgen -W "--json" -- "$cur"))
      else COMPREPLY=($(compgen -W "$(_vessel_volumes)" -- "$cur")); fi ;;
    ls|ps) COMPREPLY=($(compgen -W "--json" -- "$cur")) ;;
    build)
      # Flags, else a directory (the context).
      if [[ "$cur" == -* ]]; then COMPREPLY=($(compgen -W "--tag --file --build-arg --no-cache --target --network --quiet --json --help" -- "$cur"))
      else COMPREPLY=($(compgen -d -- "$cur")); fi ;;
    cp)
      # NAME: (instances, with no space after) or a local path; -a -L -q.
      if [[ "$cur" == -* ]]; then COMPREPLY=($(compgen -W "--archive --follow-link --quiet --help" -- "$cur"))
      elif [[ "$cur" == *:* ]]; then return
      else
        compopt -o nospace 2>/dev/null
        COMPREPLY=($(compgen -W "$(_vessel_instances | sed 's/$/:/')" -- "$cur") $(compgen -f -- "$cur"))
      fi ;;
  esac
}
complete -F _vessel vessel
)BASH";
}

}  // namespace vessel::cli
