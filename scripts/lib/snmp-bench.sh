# Helpers shared by scripts/bench-snmp and scripts/bench-libvirt (sourced, not
# run). They start and time SNMP agents side by side: virtbus, libvirt-snmp
# (a binary the operator supplies in $LIBVIRT_SNMP; nothing here obtains or
# builds it) and private net-snmp snmpd instances. Every process started here
# is stopped by its PID, at the latest at exit; every wait is bounded.
#
# The caller defines: WORK (scratch directory), BIN (release binaries),
# log MSG, on_exit CMD.

LIBVIRT_MIB_TABLE=.1.3.6.1.4.1.36957.1.1
WALK_TIMEOUT=${WALK_TIMEOUT:-300}

now_ns() { date +%s%N; }
calc() { awk "BEGIN { printf \"$1\", $2 }"; }

# A UDP port on 127.0.0.1 that is free right now.
free_udp_port() {
    python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Median of the numbers given as arguments.
median() {
    printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%d\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# PIDs of the processes started here and not yet stopped; stop_started
# (registered once with on_exit) stops what is left at exit.
declare -A STARTED_PIDS=()
started() { STARTED_PIDS[$1]=1; }
stop_started() {
    local pid
    for pid in "${!STARTED_PIDS[@]}"; do stop_pid "$pid"; done
}
on_exit stop_started

# Stops a process started here: SIGTERM, up to 10 s, then SIGKILL.
stop_pid() {
    local pid=$1 i
    [ -n "${STARTED_PIDS[$pid]:-}" ] || return 0
    unset "STARTED_PIDS[$pid]"
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null || true
}

# Waits until TARGET answers a GETNEXT inside the libvirt guest table
# (bounded by $2 seconds; $3 is the PID that must stay alive).
wait_guest_table() {
    local target=$1 seconds=$2 pid=$3 i
    for ((i = 0; i < seconds * 5; i++)); do
        if snmpgetnext -v2c -c public -m '' -On -t 1 -r 0 "$target" "$LIBVIRT_MIB_TABLE" 2>/dev/null \
            | grep -q "^$LIBVIRT_MIB_TABLE\.1\."; then
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.2
    done
    return 1
}

# Starts `virtbus serve` and sets VIRTBUS_PID. Arguments: a name for the
# state dir and log, then the serve flags.
start_virtbus() {
    local name=$1
    shift
    mkdir -p "$WORK/$name"
    "$BIN/virtbus" serve --state-dir "$WORK/$name" --cim-listen off "$@" 2>"$WORK/$name.log" &
    VIRTBUS_PID=$!
    started "$VIRTBUS_PID"
}

# Starts libvirt-snmp ($LIBVIRT_SNMP) on libvirt URI $2 and sets PEER_PID.
# $1 names its scratch dir; the rest are its arguments (-M ADDR for its
# standalone agent mode, -x SOCKET for AgentX). Its net-snmp configuration
# and persistent files stay in that dir (SNMPCONFPATH, SNMP_PERSISTENT_DIR);
# `-f -L`: no fork, log to stderr.
start_libvirt_snmp() {
    local name=$1 uri=$2
    shift 2
    mkdir -p "$WORK/$name/persist"
    printf 'rocommunity public 127.0.0.1\n' >"$WORK/$name/libvirtGuestTable.conf"
    MIBS= LIBVIRT_DEFAULT_URI=$uri SNMPCONFPATH="$WORK/$name" SNMP_PERSISTENT_DIR="$WORK/$name/persist" \
        "$LIBVIRT_SNMP" -f -L "$@" >"$WORK/$name.log" 2>&1 &
    PEER_PID=$!
    started "$PEER_PID"
}

# Starts a private snmpd (Debian's net-snmp) and sets SNMPD_PID, SNMPD_TARGET
# and, with "agentx" as $2, SNMPD_AGENTX (its master socket). Config written
# here; -C ignores the system one.
start_snmpd() {
    local name=$1 mode=${2:-} port
    port=$(free_udp_port)
    mkdir -p "$WORK/$name/persist"
    {
        printf 'agentaddress udp:127.0.0.1:%s\nrocommunity public 127.0.0.1\n' "$port"
        printf 'persistentDir %s\n' "$WORK/$name/persist"
        if [ "$mode" = agentx ]; then
            printf 'master agentx\nagentXSocket unix:%s\nagentXTimeout 10\n' "$WORK/$name/agentx.sock"
        fi
    } >"$WORK/$name/snmpd.conf"
    MIBS= "$SNMPD" -f -Lo -C -c "$WORK/$name/snmpd.conf" >"$WORK/$name.log" 2>&1 &
    SNMPD_PID=$!
    started "$SNMPD_PID"
    SNMPD_TARGET=127.0.0.1:$port
    SNMPD_AGENTX=$WORK/$name/agentx.sock
    local i
    for ((i = 0; i < 100; i++)); do
        if snmpget -v2c -c public -m '' -On -t 1 -r 0 "$SNMPD_TARGET" .1.3.6.1.2.1.1.1.0 >/dev/null 2>&1; then
            if [ "$mode" != agentx ] || [ -S "$SNMPD_AGENTX" ]; then
                return 0
            fi
        fi
        kill -0 "$SNMPD_PID" 2>/dev/null || break
        sleep 0.1
    done
    log "snmpd ($name) did not come up; its log:"
    tail -n 20 "$WORK/$name.log" >&2
    return 1
}

# One snmpbulkwalk of the whole libvirtGuestTable: prints "MS ROWS" (ROWS =
# value lines) or "fail 0". Arguments: target, max-repetitions, output file.
bulkwalk_ms() {
    local target=$1 cr=$2 out=$3 start status=0 client0 me=$BASHPID
    client0=$(children_cpu_ms "$me")
    start=$(now_ns)
    timeout "$WALK_TIMEOUT" snmpbulkwalk -v2c -c public -m '' -On -t 10 -r 1 "-Cr$cr" "$target" \
        "$LIBVIRT_MIB_TABLE" >"$out" 2>"$out.err" || status=$?
    local ms=$((($(now_ns) - start) / 1000000))
    if [ "$status" -ne 0 ]; then
        log "   snmpbulkwalk -Cr$cr $target failed (status $status): $(head -c 300 "$out.err")"
        echo "fail 0 0"
        return
    fi
    echo "$ms $(grep -c "^$LIBVIRT_MIB_TABLE\.1\.[0-9.]* = [^N]" "$out") $(($(children_cpu_ms "$me") - client0))"
}

# CPU time (user + system, ms) of the waited-for children of the shell PID
# so far: around one snmpbulkwalk, the manager's own share of a walk, which
# no agent can make shorter.
children_cpu_ms() {
    local hz
    hz=$(getconf CLK_TCK)
    echo $(($(awk '{ print $16 + $17 }' "/proc/$1/stat") * 1000 / hz))
}

# CPU time (user + system, ms) used so far by the processes given.
cpu_ms() {
    local pid total=0 ticks hz
    hz=$(getconf CLK_TCK)
    for pid in "$@"; do
        ticks=$(awk '{ print $14 + $15 }' "/proc/$pid/stat" 2>/dev/null || echo 0)
        total=$((total + ticks))
    done
    echo $((total * 1000 / hz))
}

# Alternates bulkwalks of two targets (after one unmeasured walk each, whose
# times go to FIRST_A / FIRST_B) and sets WALK_A / WALK_B to the median ms
# ("fail" if any walk failed, "skipped" without B) and ROWS_A / ROWS_B to
# the value lines of the last walk. Arguments: target A, target B ("" to
# skip it), max-repetitions, runs, and optionally the PIDs serving A and B
# (quoted lists): then CPU_A / CPU_B are the median CPU ms those processes
# used per walk, a figure the machine's load disturbs less than wall time.
# CLIENT_A is the median CPU ms snmpbulkwalk itself used per walk of A.
walk_pair() {
    local a=$1 b=$2 cr=$3 runs=$4 pids_a=${5:-} pids_b=${6:-} i ms rows c0 client _
    local -a ta=() tb=() ca=() cb=() ka=()
    WALK_A=fail WALK_B=skipped ROWS_A=0 ROWS_B=0 FIRST_B=skipped CPU_A=n/a CPU_B=n/a CLIENT_A=n/a
    read -r FIRST_A ROWS_A _ < <(bulkwalk_ms "$a" "$cr" "$WORK/walk-a.out")
    [ -n "$b" ] && read -r FIRST_B ROWS_B _ < <(bulkwalk_ms "$b" "$cr" "$WORK/walk-b.out")
    for ((i = 0; i < runs; i++)); do
        # shellcheck disable=SC2086
        c0=$(cpu_ms $pids_a)
        read -r ms rows client < <(bulkwalk_ms "$a" "$cr" "$WORK/walk-a.out")
        [ "$ms" = fail ] && return
        # shellcheck disable=SC2086
        ta+=("$ms") ROWS_A=$rows ca+=($(($(cpu_ms $pids_a) - c0))) ka+=("$client")
        if [ -n "$b" ]; then
            # shellcheck disable=SC2086
            c0=$(cpu_ms $pids_b)
            read -r ms rows _ < <(bulkwalk_ms "$b" "$cr" "$WORK/walk-b.out")
            [ "$ms" = fail ] && { WALK_B=fail; b=; continue; }
            # shellcheck disable=SC2086
            tb+=("$ms") ROWS_B=$rows cb+=($(($(cpu_ms $pids_b) - c0)))
        fi
    done
    WALK_A=$(median "${ta[@]}")
    CLIENT_A=$(median "${ka[@]}")
    [ -n "$pids_a" ] && CPU_A=$(median "${ca[@]}")
    if [ ${#tb[@]} -gt 0 ] && [ "$WALK_B" != fail ]; then
        WALK_B=$(median "${tb[@]}")
        [ -n "$pids_b" ] && CPU_B=$(median "${cb[@]}")
    fi
    log "   -Cr$cr: first walks A $FIRST_A ms, B $FIRST_B ms; timed: A ${ta[*]} ms (median $WALK_A, $ROWS_A rows, CPU ${ca[*]:-n/a} ms); B ${tb[*]:-} ms (median $WALK_B, $ROWS_B rows, CPU ${cb[*]:-n/a} ms)"
}

# "0.31x" for A/B when both are numbers, else "n/a".
ratio() {
    if [[ $1 =~ ^[0-9.]+$ ]] && [[ $2 =~ ^[0-9.]+$ ]] && [ "$(calc '%d' "($2 > 0)")" = 1 ]; then
        calc '%.2fx' "$1 / $2"
    else
        echo n/a
    fi
}

# PASS/MISS for "A/B <= LIMIT", or "n/a" when either side is missing.
verdict_le() {
    if [[ $1 =~ ^[0-9.]+$ ]] && [[ $2 =~ ^[0-9.]+$ ]] && [ "$(calc '%d' "($2 > 0)")" = 1 ]; then
        if [ "$(calc '%d' "($1 / $2 <= $3)")" = 1 ]; then echo PASS; else echo MISS; fi
    else
        echo n/a
    fi
}
