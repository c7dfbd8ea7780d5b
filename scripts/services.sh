# Sourced by ./run-tests: start the local PostgreSQL and MariaDB servers the depot tests use,
# when they are installed but not running. Best effort: tests that need a server skip, saying
# why, when none answers.
answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start_services() {
    if ! answers 5432 && command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
        pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start >/dev/null 2>&1 || true
    fi
    if ! answers 3306 && [ -x /usr/sbin/mariadbd ] && command -v start-stop-daemon >/dev/null 2>&1; then
        start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd >/dev/null 2>&1 || true
        for _ in 1 2 3 4 5 6 7 8 9 10; do answers 3306 && break; sleep 0.5; done
    fi
}
