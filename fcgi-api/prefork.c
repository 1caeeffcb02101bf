/* prefork: master process of herald-api. Signals only set flags; the master
 * loop does the work. */
#include "prefork.h"

#include <errno.h>
#include <fcgiapp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

volatile sig_atomic_t hr_prefork_stop = 0;
volatile sig_atomic_t hr_prefork_reload = 0;
volatile sig_atomic_t hr_prefork_busy = 0;
static volatile sig_atomic_t master_stop = 0;
static volatile sig_atomic_t master_hup = 0;
static volatile sig_atomic_t master_chld = 0;

#define DRAIN_TIMEOUT_S 15

static void master_on_signal(int sig)
{
    if (sig == SIGHUP)
        master_hup = 1;
    else if (sig == SIGCHLD)
        master_chld = 1;
    else
        master_stop = 1;
}

/* In a child: an idle child (blocked in accept) leaves at once; a busy one
 * finishes its request first. _exit is async-signal-safe. */
static void child_on_signal(int sig)
{
    if (sig == SIGHUP) {
        hr_prefork_reload = 1;
        return;
    }
    hr_prefork_stop = 1;
    if (!hr_prefork_busy)
        _exit(0);
}

static void install(int sig, void (*fn)(int))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fn;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: blocking calls return EINTR */
    sigaction(sig, &sa, NULL);
}

static pid_t spawn_child(hr_app_t *app, int fd, int (*child_main)(hr_app_t *, int))
{
    pid_t pid = fork();
    if (pid < 0) {
        hr_log_error("fork failed: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        install(SIGTERM, child_on_signal);
        install(SIGINT, child_on_signal);
        install(SIGHUP, child_on_signal);
        signal(SIGCHLD, SIG_DFL);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        _exit(child_main(app, fd));
    }
    return pid;
}

static int open_socket(const char *path, int backlog)
{
    unlink(path);
    mode_t old = umask(0);
    int fd = FCGX_OpenSocket(path, backlog);
    umask(old);
    if (fd < 0)
        return -1;
    /* nginx workers run as nobody: they must be able to connect. */
    chmod(path, 0666);
    return fd;
}

int hr_prefork_run(hr_app_t *app, int (*child_main)(hr_app_t *app, int listen_fd))
{
    int n = (int)app->cfg.api_workers;
    pid_t *kids = calloc((size_t)n, sizeof *kids);
    hr_assert(kids != NULL);
    if (FCGX_Init() != 0) {
        hr_log_error("FCGX_Init failed");
        free(kids);
        return 1;
    }
    int fd = open_socket(app->cfg.api_socket, (int)app->cfg.api_backlog);
    if (fd < 0) {
        hr_log_error("cannot listen on %s: %s", app->cfg.api_socket, strerror(errno));
        free(kids);
        return 1;
    }
    /* Block our signals while forking so a child never runs the master's handlers. */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGHUP);
    sigaddset(&block, SIGCHLD);
    sigprocmask(SIG_BLOCK, &block, &old);
    install(SIGTERM, master_on_signal);
    install(SIGINT, master_on_signal);
    install(SIGHUP, master_on_signal);
    install(SIGCHLD, master_on_signal);
    for (int i = 0; i < n; i++)
        kids[i] = spawn_child(app, fd, child_main);
    hr_log_json(HR_LOG_INFO, NULL, "listening",
                json_pack("{s:s, s:i}", "socket", app->cfg.api_socket, "workers", n));

    time_t last_restart = 0;
    int quick_restarts = 0;
    while (!master_stop) {
        sigsuspend(&old); /* returns after a handler ran */
        if (master_hup) {
            master_hup = 0;
            char err[512];
            if (hr_config_reload(&app->cfg, app->config_path, err, sizeof err) != 0) {
                hr_log_error("reload failed, keeping the old configuration: %s", err);
            } else {
                hr_log_info("configuration reloaded");
                for (int i = 0; i < n; i++)
                    if (kids[i] > 0)
                        kill(kids[i], SIGHUP);
            }
        }
        if (!master_chld)
            continue;
        master_chld = 0;
        int st;
        pid_t pid;
        while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
            for (int i = 0; i < n; i++) {
                if (kids[i] != pid)
                    continue;
                kids[i] = 0;
                if (master_stop)
                    break;
                hr_log_json(HR_LOG_WARN, NULL, "child exited, restarting",
                            json_pack("{s:i, s:i, s:i}", "child", (int)pid, "exit",
                                      WIFEXITED(st) ? WEXITSTATUS(st) : -1, "signal",
                                      WIFSIGNALED(st) ? WTERMSIG(st) : 0));
                time_t now = time(NULL);
                quick_restarts = now - last_restart < 1 ? quick_restarts + 1 : 0;
                last_restart = now;
                if (quick_restarts > 10)
                    sleep(1); /* a crash loop: do not spin */
                kids[i] = spawn_child(app, fd, child_main);
            }
        }
    }

    /* Drain: children finish their request and exit; stragglers are killed. */
    hr_log_info("draining");
    for (int i = 0; i < n; i++)
        if (kids[i] > 0)
            kill(kids[i], SIGTERM);
    time_t deadline = time(NULL) + DRAIN_TIMEOUT_S;
    int alive = 0;
    do {
        alive = 0;
        int st;
        pid_t pid;
        while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
            for (int i = 0; i < n; i++)
                if (kids[i] == pid)
                    kids[i] = 0;
        for (int i = 0; i < n; i++)
            alive += kids[i] > 0;
        if (alive > 0) {
            struct timespec ts = {0, 20 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    } while (alive > 0 && time(NULL) < deadline);
    for (int i = 0; i < n; i++)
        if (kids[i] > 0) {
            kill(kids[i], SIGKILL);
            waitpid(kids[i], NULL, 0);
        }
    close(fd);
    unlink(app->cfg.api_socket);
    free(kids);
    hr_log_info("stopped");
    return 0;
}
