/* herald-sweeper: retries that fall due, lost deliveries, expired leases,
 * retention. */
#include <stdio.h>
#include <string.h>

#include "proc.h"
#include "sweeper.h"

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            printf("usage: herald-sweeper [-c FILE]\n");
            return 0;
        }
    static hr_config_t cfg;
    static hr_sweeper_t s;
    const char *path = NULL;
    if (hr_proc_start("herald-sweeper", argc, argv, &cfg, &path) != 0)
        return 1;
    s.cfg = &cfg;
    return hr_sweeper_run(&s, path);
}
