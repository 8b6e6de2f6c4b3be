/* plugin_keys: see plugin_keys.h. */
#include "plugin_keys.h"

#include <string.h>

#include "common/config_map.h"

const char *hookd_config_type_name(const hookd_config_key *k)
{
    switch (k->type) {
    case HOOKD_CONFIG_STRING: return "string";
    case HOOKD_CONFIG_BOOL: return "bool";
    case HOOKD_CONFIG_INT: return "integer";
    case HOOKD_CONFIG_DURATION: return "duration";
    case HOOKD_CONFIG_SIZE: return "size";
    case HOOKD_CONFIG_FILE: return k->flags & HOOKD_CONFIG_DIR ? "directory" : "file";
    case HOOKD_CONFIG_TEMPLATE: return "template";
    case HOOKD_CONFIG_LIST: return "list";
    case HOOKD_CONFIG_ENUM: return "enum";
    case HOOKD_CONFIG_MAP: return "map";
    case HOOKD_CONFIG_JSON: return "any";
    }
    return "?";
}

int hookd_plugin_keys_print(FILE *out, const hookd_plugin *p, const char *indent)
{
    /* Read config_keys only if the plugin's descriptor has it. */
    const hookd_config_key *t = HOOKD_PLUGIN_HAS(p, config_keys) ? p->config_keys : NULL;
    if (!t) {
        fprintf(out, "%s%s %s: no list of configuration keys (plugin ABI %u.%u)\n", indent, p->name,
                p->version ? p->version : "", (unsigned)p->abi_major, (unsigned)p->abi_minor);
        return -1;
    }
    int n = 0, w = 3;
    for (const hookd_config_key *k = t; k->name; k++, n++)
        if ((int)strlen(k->name) > w)
            w = (int)strlen(k->name);
    fprintf(out, "%s%s %s: %d configuration key%s\n", indent, p->name, p->version ? p->version : "", n,
            n == 1 ? "" : "s");
    fprintf(out, "%s  %-*s  %-9s  %-14s  %s\n", indent, w, "key", "type", "default", "description");
    for (const hookd_config_key *k = t; k->name; k++) {
        const char *def = k->flags & HOOKD_CONFIG_REQUIRED ? "(required)"
                          : k->default_text              ? k->default_text
                                                         : "-";
        char quoted[96];
        /* A default with blanks, braces (a template) or line breaks is
         * written as a YAML string would be, on one line. */
        if (def == k->default_text && (strpbrk(def, " {\n\"") || !*def)) {
            size_t q = 0;
            const char *c = def;
            quoted[q++] = '"';
            for (; *c && q + 6 < sizeof quoted; c++) {
                if (*c == '\n' || *c == '"' || *c == '\\')
                    quoted[q++] = '\\';
                quoted[q++] = *c == '\n' ? 'n' : *c;
            }
            quoted[q++] = '"';
            quoted[q] = '\0';
            if (*c)   /* cut short: say so */
                memcpy(quoted + q, "...", 4);
            def = quoted;
        }
        fprintf(out, "%s  %-*s  %-9s  %-14s  %s", indent, w, k->name, hookd_config_type_name(k), def,
                k->description ? k->description : "");
        if (k->type == HOOKD_CONFIG_ENUM && k->choices) {
            char list[256];
            hookd_cmap_choices(k, list, sizeof list);
            fprintf(out, " (%s)", list);
        }
        fputc('\n', out);
    }
    return n;
}
