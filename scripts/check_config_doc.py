#!/usr/bin/env python3
"""Checks that docs/configuration.md documents every key the loader accepts.

  scripts/check_config_doc.py [--doc FILE]

Reads the key arrays of the configuration loader -- each
`static const char *const NAME_keys[] = {"a", "b", NULL};` in
core/config/*.c (and the ctct: block's, wherever it lives) -- and checks that
every key is written as `key` under the heading of its section in
docs/configuration.md. A section's heading names its path in backticks
(### `server.timeouts`); the text under it runs to the next heading of any
level. Prints each missing key on one line and exits 1 if any is missing,
or if an array has no section in SECTIONS below (a new array needs one).
The plugins' key tables (plugins/*/*.c) are checked the same way, each
under its plugin's heading.
"""
import glob
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCES = ['core/config/*.c', 'core/ctct/ctct_config.c']

# The section (a heading of docs/configuration.md) each key array belongs to.
SECTIONS = {
    'top_keys': 'top level',
    'server_keys': 'server',
    'tls_keys': 'server.tls',
    'timeout_keys': 'server.timeouts',
    'admin_keys': 'admin',
    'spool_keys': 'spool',
    'log_keys': 'log',
    'dispatch_keys': 'dispatch',
    'source_keys': 'sources',
    'auth_keys': 'sources[].auth',
    'basic_keys': 'sources[].auth.basic',
    'verify_keys': 'sources[].verify',
    'dedup_keys': 'sources[].dedup',
    'plugin_keys': 'plugins',
    'retry_keys': 'plugins[].retry',
    'route_keys': 'routes',
    'ctct_keys': 'ctct',
    'hmac_keys': 'sources[].verify',
    'jws_keys': 'sources[].verify',
}

# The in-tree plugins' key tables (`static const hookd_config_key NAME[]`,
# what `hookd check --keys` prints): each row's .name under the plugin's
# heading (### `forward`); a nested table (forward's sign:) under its own.
PLUGIN_SECTIONS = {
    'file_keys': 'file', 'exec_keys': 'exec', 'fwd_keys': 'forward',
    'sign_keys': 'forward', 'email_keys': 'email', 'db_keys': 'database',
}
TABLE = re.compile(r'static\s+const\s+hookd_config_key\s+(\w+)\s*\[\s*\]\s*=\s*\{(.*?)\n\}\s*;',
                   re.S)
ROW_NAME = re.compile(r'\.name\s*=\s*"((?:[^"\\]|\\.)*)"')

ARRAY = re.compile(r'static\s+const\s+char\s*\*\s*const\s+(\w+_keys)\s*\[\s*\]\s*=\s*\{(.*?)\}\s*;',
                   re.S)
STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')
HEADING = re.compile(r'^(#{1,6})\s+(.*?)\s*#*\s*$')


def key_arrays():
    """[(array name, 'file:line', [keys])] in file order."""
    out = []
    for pattern in SOURCES:
        for path in sorted(glob.glob(os.path.join(ROOT, pattern))):
            with open(path, encoding='utf-8') as f:
                text = f.read()
            text_nc = re.sub(r'/\*.*?\*/', lambda m: re.sub(r'[^\n]', ' ', m.group(0)), text,
                             flags=re.S)
            for m in ARRAY.finditer(text_nc):
                where = '%s:%d' % (os.path.relpath(path, ROOT), text_nc.count('\n', 0, m.start()) + 1)
                out.append((m.group(1), where, STRING.findall(m.group(2))))
    for path in sorted(glob.glob(os.path.join(ROOT, 'plugins', '*', '*.c'))):
        with open(path, encoding='utf-8') as f:
            text = f.read()
        for m in TABLE.finditer(text):
            where = '%s:%d' % (os.path.relpath(path, ROOT), text.count('\n', 0, m.start()) + 1)
            keys = ROW_NAME.findall(m.group(2))
            if m.group(1) == 'sign_keys':  # forward's sign: block, written sign.KEY
                keys = ['sign.' + k for k in keys]
            out.append((m.group(1), where, keys))
    return out


def sections(doc):
    """{section path (lower case): the text under its heading}."""
    out = {}
    current = None
    for line in doc.splitlines():
        h = HEADING.match(line)
        if h:
            title = h.group(2).replace('`', '').strip().lower()
            current = title
            out.setdefault(current, '')
            continue
        if current is not None:
            out[current] += line + '\n'
    return out


def under(secs, path):
    """The text of every heading whose title is the path, alone or followed by a space."""
    path = path.lower()
    return ''.join(body for title, body in secs.items()
                   if title == path or title.startswith(path + ' '))


def main(argv):
    doc_path = os.path.join(ROOT, 'docs', 'configuration.md')
    if len(argv) == 3 and argv[1] == '--doc':
        doc_path = argv[2]
    elif len(argv) != 1:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    try:
        with open(doc_path, encoding='utf-8') as f:
            secs = sections(f.read())
    except OSError as e:
        print('check_config_doc: %s' % e)
        return 1
    shown = os.path.relpath(doc_path, ROOT)
    if shown.startswith('..'):
        shown = doc_path
    arrays = key_arrays()
    problems = []
    if not arrays:
        problems.append('no *_keys[] arrays found in %s: has the loader moved?' % ', '.join(SOURCES))
    for name, where, keys in arrays:
        section = SECTIONS.get(name) or PLUGIN_SECTIONS.get(name)
        if section is None:
            problems.append('%s: %s has no section in SECTIONS of scripts/check_config_doc.py'
                            % (where, name))
            continue
        text = under(secs, section)
        if not text:
            problems.append('%s: no heading `%s` in %s (for %s)' % (where, section, shown, name))
            continue
        for k in keys:
            if '`%s`' % k not in text:
                problems.append('%s: key `%s` of %s is not documented under `%s`'
                                % (where, k, name, section))
    for p in problems:
        print(p)
    if problems:
        print('%d missing from %s' % (len(problems), shown))
        return 1
    print('%d key arrays, %d keys: all documented'
          % (len(arrays), sum(len(k) for _, _, k in arrays)))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
