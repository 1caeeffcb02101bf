/* herald-router: stores accepted notifications and queues their deliveries. */
#include <stdio.h>
#include <string.h>

#include "proc.h"
#include "router.h"

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            printf("usage: herald-router [-c FILE]\n");
            return 0;
        }
    static hr_config_t cfg;
    static hr_router_t rt;
    const char *path = NULL;
    if (hr_proc_start("herald-router", argc, argv, &cfg, &path) != 0)
        return 1;
    rt.cfg = &cfg;
    return hr_router_run(&rt, path);
}
