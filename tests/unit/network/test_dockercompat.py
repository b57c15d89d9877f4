from dockyard.network.dockercompat import allow_bridge, disallow_bridge


class FakeIptables:
    """Records calls; keeps DOCKER-USER rules as a list of tuples per tool."""

    def __init__(self, chains=("iptables",)):
        self.rules = {t: [] for t in chains}
        self.calls = []

    def __call__(self, argv):
        self.calls.append(list(argv))
        tool, op = argv[0], argv[4]
        if tool not in self.rules:
            return 1
        rule = tuple(argv[6:]) if op != "-I" else tuple(argv[7:])
        if op == "-S":
            return 0
        if op == "-C":
            return 0 if rule in self.rules[tool] else 1
        if op == "-I":
            self.rules[tool].insert(0, rule)
            return 0
        if op == "-D":
            if rule in self.rules[tool]:
                self.rules[tool].remove(rule)
                return 0
            return 1
        return 2


def test_no_docker_user_chain_means_nothing_is_inserted():
    fake = FakeIptables(chains=())
    assert allow_bridge("dy-a", run=fake, tools=["iptables", "ip6tables"]) == 0
    assert all(c[4] == "-S" for c in fake.calls)


def test_accepts_inserted_once_at_top_and_removed():
    fake = FakeIptables()
    assert allow_bridge("dy-a", run=fake, tools=["iptables", "ip6tables"]) == 2
    assert allow_bridge("dy-a", run=fake, tools=["iptables", "ip6tables"]) == 0
    assert ("-i", "dy-a", "-m", "comment", "--comment", "dockyard", "-j", "ACCEPT") \
        in fake.rules["iptables"]
    inserts = [c for c in fake.calls if c[4] == "-I"]
    assert all(c[5:7] == ["DOCKER-USER", "1"] for c in inserts)
    assert disallow_bridge("dy-a", run=fake, tools=["iptables"]) == 2
    assert fake.rules["iptables"] == []
