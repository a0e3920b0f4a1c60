"""Environment variable names that change how a program runs, refused in ``format = "env"``.

Whoever can write a secret chooses its field names; with ``env`` each field becomes a variable
in every consumer that sources the file (``EnvironmentFile=``, ``. ./secret.env``). A name on
this list is refused unless the secret's entry lists it in ``fields = [...]``. The list is a
safety net, not the protection: ``fields`` (only these variables) or ``env_prefix`` (every
variable starts with a fixed prefix) is. It covers, for the runtimes a service is likely to use,
the variables that

* load code or libraries: the dynamic loader (``LD_*``, glibc's secure-mode list such as
  ``GCONV_PATH``, ``GLIBC_TUNABLES``, ``MALLOC_*``), Python, Node, Perl, Ruby, Java, .NET, PHP,
  Lua, R and Tcl start-up options and search paths;
* run a command or a script: the shell (``PATH``, ``IFS``, ``ENV``, ``BASH_ENV``, ``PS4``,
  ``PROMPT_COMMAND``, exported functions), and programs started on a program's behalf
  (``BROWSER``, ``EDITOR``, ``PAGER``, ``LESSOPEN``, ``*_ASKPASS``, ``GIT_*``);
* redirect configuration, trust or the network: ``HOME`` and ``XDG_*`` (where configuration is
  read), CA bundles and ``SSLKEYLOGFILE``, OpenSSL and Kerberos configuration, ``*_PROXY``, the
  Vault and AWS client settings that choose the server, and this project's reader settings;
* talk to the service manager or the session: ``NOTIFY_SOCKET``, ``LISTEN_*``,
  ``CREDENTIALS_DIRECTORY``, D-Bus and display addresses.

Names are compared after the agent's mapping to upper case, so ``ld_preload`` is ``LD_PRELOAD``.
"""

from __future__ import annotations

_EXACT = frozenset(
    {
        # glibc: variables removed in secure-execution mode (sysdeps/generic/unsecvars.h)
        "GCONV_PATH", "GETCONF_DIR", "GLIBC_TUNABLES", "HOSTALIASES", "LOCALDOMAIN", "LOCPATH",
        "NIS_PATH", "NLSPATH", "RESOLV_HOST_CONF", "RES_OPTIONS", "TMPDIR", "TZDIR", "TZ",
        # shells
        "PATH", "IFS", "ENV", "BASH_ENV", "BASHOPTS", "SHELLOPTS", "CDPATH", "GLOBIGNORE",
        "PS1", "PS2", "PS3", "PS4", "PROMPT_COMMAND", "BASH_XTRACEFD", "BASH_LOADABLES_PATH",
        "ZDOTDIR", "FPATH", "SHELL", "HOME", "INPUTRC", "HISTFILE", "MAILPATH", "EXINIT",
        "VIMINIT", "MYVIMRC",
        # commands run on a program's behalf
        "BROWSER", "EDITOR", "VISUAL", "PAGER", "MANPAGER", "MANOPT", "LESSOPEN", "LESSCLOSE",
        "SYSTEMD_PAGER", "SYSTEMD_EDITOR", "SSH_ASKPASS", "SUDO_ASKPASS", "SSH_AUTH_SOCK",
        "LESSKEY", "LESSKEYIN", "MANPATH", "TERMINFO", "TERMINFO_DIRS", "TMP", "TEMP",
        # language runtimes
        "NODE_OPTIONS", "NODE_PATH", "NODE_EXTRA_CA_CERTS", "NODE_TLS_REJECT_UNAUTHORIZED",
        "NODE_REPL_EXTERNAL_MODULE", "GEM_HOME", "GEM_PATH", "BUNDLE_GEMFILE",
        "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS", "CLASSPATH", "MAVEN_OPTS",
        "GRADLE_OPTS", "CATALINA_OPTS", "DOTNET_STARTUP_HOOKS", "DOTNET_ADDITIONAL_DEPS",
        "DOTNET_SHARED_STORE", "DOTNET_ROOT", "PHPRC", "PHP_INI_SCAN_DIR", "TCLLIBPATH",
        "R_PROFILE", "R_PROFILE_USER", "R_ENVIRON", "R_ENVIRON_USER", "R_LIBS", "R_LIBS_USER",
        "GODEBUG", "GOFLAGS", "GOPROXY", "GOINSECURE", "GONOSUMDB", "GOTOOLCHAIN",
        # configuration, trust and network
        "SSL_CERT_FILE", "SSL_CERT_DIR", "SSLKEYLOGFILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
        "CURL_HOME", "WGETRC", "NETRC", "GNUPGHOME", "AWS_CA_BUNDLE", "AWS_CONFIG_FILE",
        "AWS_SHARED_CREDENTIALS_FILE", "AWS_ENDPOINT_URL", "VAULT_ADDR", "VAULT_AGENT_ADDR",
        "VAULT_PROXY_ADDR", "VAULT_CACERT", "VAULT_CAPATH", "VAULT_CLIENT_CERT",
        "VAULT_CLIENT_KEY", "VAULT_SKIP_VERIFY", "VAULT_TLS_SERVER_NAME", "VAULT_NAMESPACE",
        "VAULT_TOKEN_FILE", "VAULT_SECRET_ID_FILE", "VAULT_KV_MOUNT", "VAULT_KV_VERSION",
        "VAULT_CLIENT_TIMEOUT", "SECRETS_DIR", "SECRET_BACKEND", "SECRET_CACHE_TTL",
        "SECRET_ENV_PREFIX",
        # service manager and session
        "NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "CREDENTIALS_DIRECTORY",
        "WATCHDOG_PID", "WATCHDOG_USEC", "DBUS_SESSION_BUS_ADDRESS", "DBUS_SYSTEM_BUS_ADDRESS",
        "DISPLAY", "WAYLAND_DISPLAY", "XAUTHORITY",
    }
)  # fmt: skip

_PREFIXES = (
    "LD_",  # dynamic loader: LD_PRELOAD, LD_LIBRARY_PATH, LD_AUDIT, ...
    "DYLD_",  # the macOS loader, for consumers that pass the file on
    "MALLOC_",  # glibc allocator tracing and checks
    "BASH_FUNC_",  # exported shell functions
    "PYTHON",  # PYTHONPATH, PYTHONSTARTUP, PYTHONWARNINGS, PYTHONHOME, ...
    "PIP_",
    "PERL",  # PERL5OPT, PERL5LIB, PERLLIB, PERL5DB, PERLIO, ...
    "RUBY",  # RUBYOPT, RUBYLIB, ...
    "NPM_CONFIG_",
    "JAVA_",  # JAVA_OPTS, JAVA_HOME, ...
    "CORECLR_",  # .NET profilers
    "COR_",
    "LUA_",  # LUA_INIT, LUA_PATH, LUA_CPATH
    "GIT_",  # GIT_SSH_COMMAND, GIT_EXEC_PATH, GIT_CONFIG_*, GIT_PAGER, ...
    "XDG_",  # where configuration and data are read from
    "OPENSSL_",  # OPENSSL_CONF loads engines and providers
    "KRB5",  # KRB5_CONFIG, KRB5CCNAME, KRB5_KTNAME
    "AWS_ENDPOINT_URL_",
)
_SUFFIXES = ("_PROXY", "_ASKPASS")  # HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, NO_PROXY, GIT_ASKPASS


def is_dangerous(name: str) -> bool:
    """True if setting variable ``name`` (upper case) can change how a consumer runs."""
    return name in _EXACT or name.startswith(_PREFIXES) or name.endswith(_SUFFIXES)
