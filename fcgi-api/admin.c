/* herald-admin: operator commands (migrations, tenants, sample config).
 * Prints JSON on stdout; errors on stderr with a non-zero exit. */
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>

#include "config.h"
#include "db.h"
#include "jsonutil.h"
#include "log.h"
#include "migrate.h"
#include "tenancy.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: herald-admin [-c FILE] COMMAND\n"
               "  migrate [SQLDIR]            apply new SQL migrations (default " HR_DATADIR "/sql)\n"
               "  create-tenant --name NAME   new tenant, project, environments and API keys\n"
               "  sample-config               print the commented sample configuration\n");
}

static int print_json(json_t *v)
{
    char *s = hr_json_dump(v);
    puts(s);
    free(s);
    json_decref(v);
    return 0;
}

int main(int argc, char **argv)
{
    hr_config_t cfg;
    hr_db_t db = {0};
    char err[1024];
    int rc = 1;
    const char *path = hr_config_path(argc, argv);
    int i = 1;
    while (i < argc && argv[i][0] == '-') {
        if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) && i + 1 < argc)
            i += 2;
        else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (i >= argc) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[i++];
    if (strcmp(cmd, "sample-config") == 0)
        return hr_config_write_sample(NULL) == 0 ? 0 : 1;
    if (sodium_init() < 0 || hr_config_load(&cfg, path, err, sizeof err) != 0) {
        fprintf(stderr, "herald-admin: %s\n", err);
        return 1;
    }
    hr_log_init("herald-admin", HR_LOG_WARN);
    if (hr_db_open(&db, cfg.pg_conninfo, err, sizeof err) != 0) {
        fprintf(stderr, "herald-admin: postgres: %s\n", err);
        goto done;
    }
    if (strcmp(cmd, "migrate") == 0) {
        const char *dir = i < argc ? argv[i] : HR_DATADIR "/sql";
        json_t *applied = hr_migrate(&db, dir, err, sizeof err);
        if (applied == NULL) {
            fprintf(stderr, "herald-admin: migrate: %s\n", err);
            goto done;
        }
        rc = print_json(json_pack("{s:o}", "applied", applied));
    } else if (strcmp(cmd, "create-tenant") == 0) {
        const char *name = NULL;
        for (; i < argc; i++)
            if (strcmp(argv[i], "--name") == 0 && i + 1 < argc)
                name = argv[++i];
        if (name == NULL || name[0] == '\0' || strlen(name) > 200) {
            fprintf(stderr, "herald-admin: create-tenant needs --name NAME (1-200 characters)\n");
            rc = 2;
            goto done;
        }
        json_t *t = hr_tenant_create(&db, name, err, sizeof err);
        if (t == NULL) {
            fprintf(stderr, "herald-admin: create-tenant: %s\n", err);
            goto done;
        }
        rc = print_json(t);
    } else {
        usage(stderr);
        rc = 2;
    }
done:
    hr_db_close(&db);
    return rc;
}
