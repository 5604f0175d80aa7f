"""Rules that adapt public packetdrill scripts to shoal, or skip them.

Each corpus was written for one kernel's personality. A rule here may change
a line only where the difference is a choice the RFCs leave to the
implementation, and says which RFC allows it. Every shell command a script
would run (backticks) is either replaced by a no-op, listed below with the
reason it does not apply to shoal, or makes the script SKIPPED: the runner
never executes a corpus' shell commands, since they would change the host's
own sysctls.

A script that needs a feature shoal does not have is SKIPPED with the name of
that feature (SKIP_RULES, first match wins); it is never counted as a pass.
"""
import re
from dataclasses import dataclass, field

# ---------------------------------------------------------------- skips


@dataclass(frozen=True)
class SkipRule:
    feature: str  # what shoal lacks; becomes the skip reason
    path: str = ''  # regex on "<corpus>/<path inside corpus>"
    content: str = ''  # regex (multiline) on the script text
    doc: str = ''  # how the rule matches, for docs/conformance.md


SKIP_RULES = [
    SkipRule('upstream packetdrill cannot address a socket only bound (it sends 0.0.0.0:0 both ways)',
             path=r'state-event-engine/rcv-(ack|fin-ack|fin|syn-ack|syn|syn-fin)-closed/',
             doc='`state-event-engine/rcv-{ack,fin-ack,fin,syn-ack,syn,syn-fin}-closed/`: a segment to a port '
                 'only bound, whose RST the script expects. Upstream packetdrill learns addresses from listen() '
                 'or connect(), so it addresses the segment 0.0.0.0:0 -> 0.0.0.0:0 and then matches the RST '
                 'as one more inbound segment. shoal sends that RST (Reset.SegmentToClosedPortGetsRst, '
                 'ScriptedPeerTest.SegmentToAClosedPortDrawsAReset)'),
    SkipRule('IPv6', path=r'ipv6', content=r'^--ip_version=ipv4-mapped-ipv6|^--ip_version=ipv6|AF_INET6',
             doc='path contains `ipv6`, `--ip_version=ipv6`/mapped, `AF_INET6`'),
    SkipRule('TCP over UDP encapsulation', path=r'tcp-over-udp',
             content=r'TCP_REMOTE_UDP_ENCAPS_PORT|udp_tunneling|^--udp_encapsulation',
             doc='`tcp-over-udp/`, `TCP_REMOTE_UDP_ENCAPS_PORT`, `--udp_encapsulation`'),
    SkipRule('TCP Fast Open (RFC 7413)', path=r'fastopen|fast-open',
             content=r'TCP_FASTOPEN|MSG_FASTOPEN|[<,]\s*FO\b|tcp_fastopen=(?!0\b)',
             doc='`fastopen/`, `fast-open/`, `TCP_FASTOPEN*`, `MSG_FASTOPEN`, a `FO` option'),
    SkipRule('ECN (RFC 3168)', path=r'/ecn/',
             content=r'^\s*\S+\s+[<>]\s+[SFPR.]*[EW][SFPREW.]*\s|\[(ect0|ect1|ce|noecn)\]|tcp_ecn=[12]|ecn\.enable=1',
             doc='`ecn/`, ECE/CWR flags in a segment, ECN codepoints, ECN turned on by sysctl'),
    SkipRule('TCP MD5 signatures (RFC 2385)', path=r'md5', content=r'TCP_MD5SIG|tcp-md5|^--tcp_md5',
             doc='`md5/`, `TCP_MD5SIG`'),
    SkipRule('UDP sockets', content=r'SOCK_DGRAM|IPPROTO_UDP', doc='`SOCK_DGRAM`, `IPPROTO_UDP`'),
    SkipRule('TCP_INFO', path=r'tcp_info', content=r'\bTCP_INFO\b', doc='`tcp_info/`, `TCP_INFO`'),
    SkipRule('zerocopy (SO_ZEROCOPY)', path=r'zerocopy', content=r'SO_ZEROCOPY|MSG_ZEROCOPY',
             doc='`zerocopy/`, `SO_ZEROCOPY`, `MSG_ZEROCOPY`'),
    SkipRule('SO_TIMESTAMPING and the error queue', path=r'timestamping',
             content=r'SO_TIMESTAMPING|MSG_ERRQUEUE', doc='`timestamping/`, `SO_TIMESTAMPING`, `MSG_ERRQUEUE`'),
    SkipRule('sendfile', path=r'sendfile', content=r'\bsendfile\(', doc='`sendfile/`, `sendfile(`'),
    SkipRule('splice', path=r'splice', content=r'\bsplice\(', doc='`splice/`, `splice(`'),
    SkipRule('ICMP errors for TCP (RFC 5927)', path=r'rcv-icmp|/ICMP/|pmtu_discovery',
             content=r'^\s*\S+\s+<\s+(\[[^\]]*\]\s+)?icmp\b',
             doc='`rcv-icmp/`, `ICMP/`, `pmtu_discovery/`, an inbound `icmp` packet'),
    SkipRule('TCP_NOTSENT_LOWAT', content=r'TCP_NOTSENT_LOWAT|tcp_notsent_lowat=(?!4294967295)',
             doc='`TCP_NOTSENT_LOWAT` or its sysctl'),
    SkipRule('TCP_CORK / MSG_MORE', content=r'TCP_CORK|MSG_MORE', doc='`TCP_CORK`, `MSG_MORE`'),
    SkipRule('MSG_EOR', content=r'MSG_EOR', doc='`MSG_EOR`'),
    SkipRule('TCP_INQ', content=r'TCP_INQ', doc='`TCP_INQ`'),
    SkipRule('MSG_TRUNC', content=r'MSG_TRUNC', doc='`MSG_TRUNC`'),
    SkipRule('TCP_KEEPINIT', content=r'TCP_KEEPINIT|tcp\.keepinit', doc='`TCP_KEEPINIT` or its sysctl'),
    SkipRule('TCP_NOOPT', content=r'TCP_NOOPT', doc='`TCP_NOOPT`'),
    SkipRule('TCP_SYNCNT', content=r'TCP_SYNCNT', doc='`TCP_SYNCNT`'),
    SkipRule('FreeBSD TCP stacks (TCP_FUNCTION_BLK, RACK options)', content=r'TCP_FUNCTION_BLK|TCP_RACK_',
             doc='`TCP_FUNCTION_BLK`, `TCP_RACK_*`'),
    SkipRule('IP-level socket options (IP_TOS, IP_TTL, IP_MTU_DISCOVER, IP_FREEBIND, SO_MARK)',
             content=r'\b(IP_TOS|IP_TTL|IP_MTU_DISCOVER|IP_FREEBIND|SO_MARK)\b', doc='those option names'),
    SkipRule('Linux MIB counters (nstat)', content=r'`[^`]*\bnstat\b', doc='`nstat` in a shell command'),
    SkipRule('per-route MSS/MTU (ip route)', content=r'`[^`]*\bip (-6 )?route\b', doc='`ip route` in a shell command'),
    SkipRule('a kernel qdisc (tc)', content=r'`[^`]*\btc qdisc', doc='`tc qdisc` in a shell command'),
    SkipRule('NIC offload settings (ethtool)', content=r'`[^`]*\bethtool\b', doc='`ethtool` in a shell command'),
    SkipRule('cubic module parameters', content=r'/sys/module/tcp_cubic', doc='`/sys/module/tcp_cubic`'),
]

# ------------------------------------------------- shell commands (backticks)

# Sysctl settings equal to what shoal does (or that cannot change anything
# shoal does): the command becomes a no-op. (name, value regex, reason).
NOOP_SYSCTLS = [
    # Linux
    ('net.ipv4.tcp_timestamps', '1', 'shoal always offers timestamps (RFC 7323)'),
    ('net.ipv4.tcp_sack', '1', 'shoal always offers SACK (RFC 2018)'),
    ('net.ipv4.tcp_congestion_control', 'cubic', 'the adapter is started with cc=cubic for Linux scripts'),
    ('net.ipv4.tcp_min_tso_segs', r'\d+', 'sizes Linux TSO bursts; the adapter has no TSO'),
    ('net.ipv4.tcp_tso_win_divisor', r'\d+', 'a Linux TSO-deferral heuristic; the adapter has no TSO'),
    ('net.ipv4.tcp_ecn', '0', 'shoal has no ECN'),
    ('net.ipv4.tcp_fastopen', '0', 'shoal has no TCP Fast Open'),
    # FreeBSD
    ('net.inet.tcp.rfc1323', '1', 'window scale and timestamps on (RFC 7323), as shoal'),
    ('net.inet.tcp.blackhole', '0', 'RST for segments to closed ports, as shoal (RFC 9293 3.10.7.1)'),
    ('net.inet.tcp.sack.enable', '1', 'SACK on, as shoal'),
    ('net.inet.tcp.ecn.enable', '[02]', 'ECN off, or only when the peer asks (scripts whose peer asks are skipped)'),
    ('kern.ipc.maxsockbuf', '2097152', 'an upper limit on buffer sizes no script reaches'),
    ('net.inet.tcp.recvspace', '65536', 'default buffer; its getsockopt checks are rewritten (rule buffer-defaults)'),
    ('net.inet.tcp.sendspace', '32768', 'default buffer; its getsockopt checks are rewritten (rule buffer-defaults)'),
    ('net.inet.tcp.hostcache.purgenow', '1', 'shoal keeps no per-host cache; each script is a fresh process'),
    ('net.inet.tcp.insecure_rst', '0', 'RFC 5961 RST checks on, as shoal'),
    ('net.inet.tcp.insecure_syn', '0', 'RFC 5961 SYN checks on, as shoal'),
    ('net.inet.tcp.rexmit_initial', '1000', 'initial RTO 1 s (RFC 6298 2.1), as shoal'),
    ('net.inet.tcp.rexmit_slop', '200', 'RTO floor 200 ms, as the adapter (rto_min_ms=200)'),
    ('net.inet.tcp.rexmit_drop_options', '0', 'SYN retransmissions keep their options, as shoal'),
    ('net.inet.tcp.drop_synfin', '0', 'SYN+FIN processed as RFC 9293 says, as shoal'),
    ('net.inet.tcp.syncookies', '1', 'SYN cookies when the backlog is full (RFC 4987), as shoal'),
    ('net.inet.tcp.syncookies_only', '0', 'a SYN cache first, cookies when full, as shoal'),
    ('net.inet.tcp.fastopen.client_enable', '0', 'no TCP Fast Open, as shoal'),
    ('net.inet.tcp.fastopen.server_enable', '0', 'no TCP Fast Open, as shoal'),
    ('net.inet.tcp.delacktime', '40', 'delayed ACK 40 ms, as the adapter (delayed_ack_ms=40)'),
    ('net.inet.tcp.keepidle', '7200000', 'keepalive idle 2 h (RFC 1122 4.2.3.6), as shoal'),
    ('net.inet.tcp.keepintvl', '75000', 'keepalive interval 75 s, as shoal'),
    ('net.inet.tcp.udp_tunneling_port', '0', 'no TCP over UDP, as shoal'),
]

# Whole commands that become no-ops: (regex on one command line, reason).
NOOP_COMMANDS = [
    (r'^(\.\./)*common/defaults\.sh$|^scripts/defaults\.sh$',
     'sets the Linux test machine\'s sysctls; shoal reads no sysctls, and the adapter is started with '
     'the equivalent settings (cc=cubic; delayed ACK 40 ms and RTO floor 200 ms are its defaults)'),
    (r'^/tmp/sysctl_restore_\$\{PPID\}\.sh$', 'restores sysctls that, here, were never changed'),
    (r'^ip tcp_metrics flush all', 'shoal keeps no per-destination metrics'),
    (r'^tcpdrop -s TIME_WAIT$', 'ends host TIME_WAIT connections between tests; each script is a fresh process'),
    (r'^/bin/(dd|rm) .*/tmp/testfile', 'creates a file only sendfile() reads (sendfile scripts are skipped)'),
]

# Commands that only query the host's socket table: shoal's sockets are not
# in it. The command is removed; the segments around it still show the state.
STATE_QUERY_COMMANDS = [
    r'^sockstat ',
    r'/proc/net/tcp',
]

SYSCTL_ASSIGN = re.compile(r'((?:net|kern)\.[\w.]+|/proc/sys/[\w/]+)=("[^"]*"|\S+)')


@dataclass
class Plan:
    """What the runner does with one script."""
    skip: str = ''  # non-empty: skipped for this reason
    text: str = ''  # the rewritten script
    rules: list = field(default_factory=list)  # ids of the rewrite rules applied
    so_flags: list = field(default_factory=list)  # extra adapter flags


def classify_command(cmd):
    """('noop'|'query'|'skip', detail) for the text between two backticks."""
    lines = [ln.strip().rstrip('\\').strip() for ln in cmd.split('\n')]
    lines = [ln for ln in lines if ln and not ln.startswith('#')]
    if not lines:
        return 'noop', ''
    kinds = set()
    for ln in lines:
        if any(re.search(rx, ln) for rx, _ in NOOP_COMMANDS):
            kinds.add('noop')
            continue
        if any(re.search(rx, ln) for rx in STATE_QUERY_COMMANDS):
            kinds.add('query')
            continue
        assigns = SYSCTL_ASSIGN.findall(ln)
        words = ln.split()
        if assigns and words[0] in ('sysctl', '../common/set_sysctls.py', '../../common/set_sysctls.py',
                                    '../../../common/set_sysctls.py', 'scripts/set_sysctls.py') \
                or (assigns and ln.startswith(('/proc/sys/', 'net.'))):
            for name, value in assigns:
                name = name.replace('/proc/sys/', '').replace('/', '.')
                value = value.strip('"')
                if not any(name == n and re.fullmatch(v, value) for n, v, _ in NOOP_SYSCTLS):
                    return 'skip', f'sysctl {name}={value}'
            kinds.add('noop')
            continue
        if re.match(r'^(\.\./)*common/set_sysctls\.py$', ln):
            kinds.add('noop')
            continue
        return 'skip', 'shell command: ' + ' '.join(words[:3])
    return ('query' if 'query' in kinds else 'noop'), ''


# ------------------------------------------------------------- rewrites

REWRITE_RULES = [
    ('ifdef', 'FreeBSD', '`#ifdef STANDARD` bodies kept, `#ifdef FreeBSD` bodies dropped',
     'the nplab packetdrill fork\'s preprocessor lines, which the upstream packetdrill cannot parse; '
     'shoal is judged by the behaviour the script names as the standard one', 'RFC 9293'),
    ('shell-noop', 'all', 'a backtick command listed as a no-op (init scripts, sysctls equal to shoal\'s '
     'behaviour) becomes `true`', 'shoal reads no sysctls; see the no-op tables', '-'),
    ('state-query', 'all', '`sockstat` / `/proc/net/tcp` queries become `true`',
     'they read the host kernel\'s socket table, where shoal\'s sockets are not; the segments the '
     'script exchanges still show the state', '-'),
    ('tcpi-asserts', 'all', '`%{ ... }%` blocks (Python asserts on `tcpi_*`) become `true`',
     'shoal has no TCP_INFO; the script\'s segments and system calls are still checked', '-'),
    ('syn-options', 'all', 'in an outbound SYN or SYN-ACK whose options are only MSS, SACK-permitted, '
     'timestamps and window scale, the option list is laid out as shoal lays it out (the same '
     'options and values, in shoal\'s order and NOP padding) and the window-scale shift is shoal\'s',
     'option order and padding are the sender\'s choice; the shift count is the receiver\'s choice',
     'RFC 9293 3.1, RFC 7323 2.2-2.3'),
    ('buffer-defaults', 'FreeBSD', '`getsockopt(SO_RCVBUF)` = 65536 (or 65700 / 66240: that rounded up to '
     'whole 1460- / 1440-byte segments) and `getsockopt(SO_SNDBUF)` = 32768, the FreeBSD defaults the script '
     'set by sysctl, become `true`',
     'the default buffer size is the implementation\'s choice', 'RFC 9293 3.8.6'),
    ('linux-buffer-doubling', 'Linux', '`getsockopt(SO_SNDBUF/SO_RCVBUF)` expecting twice the value the '
     'script set with `setsockopt` expects the value set',
     'Linux doubles the value for its own bookkeeping (socket(7)); shoal returns what was set', '-'),
    ('no-quickack', 'FreeBSD', 'the adapter is started with `quickack_segments=0`: the first data segments of '
     'a connection get the delayed ACK like any others',
     'FreeBSD has no quick-ACK mode (Linux\'s, which shoal follows by default); when to send an ACK within '
     'the delayed-ACK bounds is the receiver\'s choice', 'RFC 9293 3.8.6.3, RFC 5681 4.2'),
    ('bsd-receive-window', 'FreeBSD', 'the adapter is started with `rcv_buf=65700` and '
     '`rcv_window_hold_back=0`: the receive buffer FreeBSD has once a connection is established '
     '(its recvspace sysctl, 65536, which the scripts set, rounded up to whole 1460-byte segments), and '
     'BSD\'s receiver-side silly window avoidance (every segment offers the free space; a window below '
     'min(buffer / 4, MSS) is offered as zero) instead of the RFC\'s hold-back of the right edge, which '
     'shoal uses by default as Linux does',
     'the buffer size is the implementation\'s choice; RFC 1122 requires receiver-side SWS avoidance, and '
     'both algorithms avoid it', 'RFC 9293 3.8.6.2.2, RFC 1122 4.2.3.3'),
    ('bsd-delayed-ack', 'FreeBSD', 'the adapter is started with `ack_every_second_segment=1`: every second '
     'data segment is ACKed at once whatever its size, as FreeBSD does, instead of every second full-sized '
     'segment (shoal\'s default, as Linux)',
     'RFC 5681 requires an ACK for at least every second full-sized segment and allows more frequent ACKs',
     'RFC 5681 4.2, RFC 9293 3.8.6.3'),
    ('mtu-flag', 'all', 'a script option `--mtu=N` also gives the adapter `mtu=N`',
     'packetdrill sets a tun device\'s MTU, which the adapter has not; the adapter\'s MTU is the equivalent', '-'),
    ('local-ip-flag', 'all', 'a script option `--local_ip=A` also gives the adapter `local_ip=A`',
     'the adapter must own packetdrill\'s local address', '-'),
]

# FreeBSD's default buffer sizes (the recvspace and sendspace sysctls the
# scripts set), and the receive buffer rounded up to whole segments of an
# MSS of 1460 (IPv4) or 1440 (IPv6) once the connection is established.
FREEBSD_RCV_BUF = -(-65536 // 1460) * 1460  # 65700
FREEBSD_BUFFER_DEFAULTS = {
    'SO_RCVBUF': {65536} | {-(-65536 // mss) * mss for mss in (1460, 1440)},
    'SO_SNDBUF': {32768},
}

# An outbound segment: timestamp, '>', flags, start:end(length).
PACKET_LINE = re.compile(r'^(\s*\S+\s+>\s+)(S\.?|S)(\s.*?)<([^<>]*)>(.*)$')


def _syn_options(opts, wscale):
    """shoal's layout of an outbound SYN/SYN-ACK option list, or None."""
    items = [o.strip() for o in opts.split(',')]
    mss = ts = ws = None
    sack = False
    for it in items:
        if re.fullmatch(r'mss \d+', it):
            mss = it
        elif it == 'sackOK':
            sack = True
        elif re.fullmatch(r'TS val \S+ ecr \S+', it):
            ts = it
        elif re.fullmatch(r'wscale \d+', it):
            ws = it
        elif it in ('nop', 'eol'):
            continue
        else:
            return None
    if mss is None:
        return None
    out = [mss]
    if ts and sack:
        out += ['sackOK', ts]
    elif ts:
        out += ['nop', 'nop', ts]
    elif sack:
        out += ['nop', 'nop', 'sackOK']
    if ws is not None:
        out += ['nop', f'wscale {wscale}']
    return ','.join(out)


def _neutral(line_text, applied, rule):
    """The line's timestamp kept, its action replaced by `true`."""
    m = re.match(r'^(\s*[+\d.][\d.+~]*\s+)', line_text)
    applied.add(rule)
    return (m.group(1) if m else '') + '`true`'


def personality(corpus):
    return 'freebsd' if corpus == 'freebsd' else 'linux'


def personality_flags(name):
    """The adapter flags a personality starts shoal with, and the rules they apply."""
    if name == 'linux':
        return ['cc=cubic'], []
    # FreeBSD: recvspace 65536 rounded up to whole 1460-byte segments, BSD's
    # receiver-side silly window avoidance, no quick-ACK mode.
    return (['quickack_segments=0', f'rcv_buf={FREEBSD_RCV_BUF}', 'rcv_window_hold_back=0',
             'ack_every_second_segment=1'],
            ['no-quickack', 'bsd-receive-window', 'bsd-delayed-ack'])


PERSONALITIES = ('linux', 'freebsd')


def plan(corpus, relpath, text, shoal_wscale):
    """Skip reason, or the rewritten script: shoal's view of one script.
    shoal_wscale: the window-scale shift shoal offers, by personality."""
    key = f'{corpus}/{relpath}'
    for r in SKIP_RULES:
        if (r.path and re.search(r.path, key)) or (r.content and re.search(r.content, text, re.M)):
            return Plan(skip=r.feature)
    so_flags, applied = personality_flags(personality(corpus))
    applied = set(applied)
    shoal_wscale = shoal_wscale[personality(corpus)]

    # #ifdef blocks: lines replaced by empty lines so line numbers still match
    # the corpus file.
    out_lines = []
    keep = True
    for ln in text.split('\n'):
        s = ln.strip()
        if s.startswith('#ifdef'):
            keep = s.split()[1:] == ['STANDARD']
            applied.add('ifdef')
            out_lines.append('')
        elif s == '#endif':
            keep = True
            out_lines.append('')
        else:
            out_lines.append(ln if keep else '')
    text = '\n'.join(out_lines)

    # Backtick commands (may span lines; newlines are kept).
    def sub_cmd(m):
        kind, detail = classify_command(m.group(1))
        if kind == 'skip':
            raise _Skip('needs ' + detail)
        applied.add('shell-noop' if kind == 'noop' else 'state-query')
        return '`true' + '\n' * m.group(1).count('\n') + '`'

    def sub_code(m):
        applied.add('tcpi-asserts')
        return '`true' + '\n' * m.group(0).count('\n') + '`'
    try:
        text = re.sub(r'`([^`]*)`', sub_cmd, text)
    except _Skip as e:
        return Plan(skip=str(e))
    text = re.sub(r'%\{.*?\}%', sub_code, text, flags=re.S)

    lines = text.split('\n')
    set_bufs = {}
    for i, ln in enumerate(lines):
        m = PACKET_LINE.match(ln)
        if m:
            new = _syn_options(m.group(4), shoal_wscale)
            if new is not None and new != m.group(4):
                lines[i] = f'{m.group(1)}{m.group(2)}{m.group(3)}<{new}>{m.group(5)}'
                applied.add('syn-options')
        m = re.search(r'getsockopt\(\d+, SOL_SOCKET, (SO_RCVBUF|SO_SNDBUF), \[(\d+)\]', ln)
        if corpus == 'freebsd' and m and int(m.group(2)) in FREEBSD_BUFFER_DEFAULTS[m.group(1)]:
            lines[i] = _neutral(ln, applied, 'buffer-defaults')
        m = re.search(r'setsockopt\((\d+), SOL_SOCKET, (SO_SNDBUF|SO_RCVBUF), *\[(\d+)\]', ln)
        if m:
            set_bufs[(m.group(1), m.group(2))] = int(m.group(3))
        m = re.search(r'getsockopt\((\d+), SOL_SOCKET, (SO_SNDBUF|SO_RCVBUF), *\[(\d+)\]', ln)
        if m and personality(corpus) == 'linux' and \
                set_bufs.get((m.group(1), m.group(2)), -1) * 2 == int(m.group(3)):
            lines[i] = ln[:m.start(3)] + str(int(m.group(3)) // 2) + ln[m.end(3):]
            applied.add('linux-buffer-doubling')
        m = re.match(r'^--mtu=(\d+)\s*$', ln)
        if m:
            so_flags.append(f'mtu={m.group(1)}')
            applied.add('mtu-flag')
        m = re.match(r'^--local_ip=([\d.]+)\s*$', ln)
        if m:
            so_flags.append(f'local_ip={m.group(1)}')
            applied.add('local-ip-flag')
    text = '\n'.join(lines)
    # Nothing but `true` may be left for packetdrill to hand to a shell.
    for cmd in re.findall(r'`([^`]*)`', text):
        if cmd.strip() != 'true':
            return Plan(skip='needs shell command: ' + cmd.strip().split()[0])
    return Plan(text=text, rules=sorted(applied), so_flags=so_flags)


class _Skip(Exception):
    pass
