/* fcgi_hello: the nginx → FastCGI ceiling for benchmarks. A prefork libfcgi
 * responder like herald-api (N children on one unix socket) that answers a
 * fixed JSON body and does nothing else.
 * usage: fcgi_hello SOCKET_PATH CHILDREN */
#include <fcgiapp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int hello_child(int fd)
{
    static const char reply[] = "Status: 202 Accepted\r\nContent-Type: application/json\r\n\r\n"
                                "{\"status\":\"accepted\"}\n";
    FCGX_Request req;
    if (FCGX_InitRequest(&req, fd, 0) != 0)
        return 1;
    while (FCGX_Accept_r(&req) >= 0) {
        char buf[4096];
        while (FCGX_GetStr(buf, sizeof buf, req.in) > 0)
            ; /* read the body like a real handler would */
        FCGX_PutStr(reply, (int)sizeof reply - 1, req.out);
        FCGX_Finish_r(&req);
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: fcgi_hello SOCKET_PATH CHILDREN\n");
        return 2;
    }
    int n = atoi(argv[2]);
    if (n < 1 || n > 64 || FCGX_Init() != 0)
        return 2;
    unlink(argv[1]);
    umask(0);
    int fd = FCGX_OpenSocket(argv[1], 1024);
    if (fd < 0) {
        perror("FCGX_OpenSocket");
        return 1;
    }
    for (int i = 0; i < n; i++)
        if (fork() == 0)
            _exit(hello_child(fd));
    /* The children die with the parent's process group (the bench script
     * kills the group); the parent just waits. */
    while (wait(NULL) > 0)
        ;
    return 0;
}
