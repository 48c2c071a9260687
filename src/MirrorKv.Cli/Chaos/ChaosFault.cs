namespace MirrorKv.Cli.Chaos;

/// <summary>What one chaos cycle does to the pair. The CLI names are those of <see cref="ChaosFaults"/>.</summary>
internal enum ChaosFault
{
    /// <summary>SIGKILL the primary or the secondary (seeded); the runner restarts it as secondary of the survivor.</summary>
    Kill,

    /// <summary>SIGSTOP the primary for 1.5-3 s (seeded), longer than the secondary's 1 s promotion timeout, then SIGCONT.</summary>
    PausePrimary,

    /// <summary>SIGSTOP the secondary for 1.5-3 s, then SIGCONT.</summary>
    PauseSecondary,

    /// <summary>Black-hole the peer link (both ways or one way, seeded) for 1.5-3 s, then restore it.</summary>
    CutLink,

    /// <summary>SIGSTOP the secondary, wait 1.5 s, then SIGKILL it without resuming; the runner restarts it.</summary>
    SilentDeath,

    /// <summary>A control, no fault: a window as long as the last primary kill's, with the load running. Its read stall is the machine's own floor.</summary>
    Idle,

    /// <summary>
    /// A control, no fault: a node process of its own started beside the pair (it joins nothing) and stopped at the
    /// window's end, as a kill's replacement starts on the same cores; its read stall is what that start alone costs.
    /// </summary>
    NodeStart,
}

/// <summary>The fault names of <c>mirrorkv chaos --faults</c>.</summary>
internal static class ChaosFaults
{
    private static readonly (string Name, ChaosFault Fault)[] All =
    [
        ("kill", ChaosFault.Kill),
        ("pause-primary", ChaosFault.PausePrimary),
        ("pause-secondary", ChaosFault.PauseSecondary),
        ("cut-link", ChaosFault.CutLink),
        ("silent-death", ChaosFault.SilentDeath),
        ("idle", ChaosFault.Idle),
        ("node-start", ChaosFault.NodeStart),
    ];

    /// <summary>Every valid name, comma-separated, in the order above.</summary>
    public static string ValidNames => string.Join(", ", All.Select(f => f.Name));

    public static string Name(ChaosFault fault) => All.First(f => f.Fault == fault).Name;

    /// <summary>True for the controls (<see cref="ChaosFault.Idle"/>, <see cref="ChaosFault.NodeStart"/>): windows measured without a fault.</summary>
    public static bool IsControl(ChaosFault fault) => fault is ChaosFault.Idle or ChaosFault.NodeStart;

    /// <summary>
    /// Parses a comma list such as "kill,pause-primary". Each kind counts once however often it is named;
    /// the order is the list's. An unknown or empty name gives an error that lists the valid ones.
    /// </summary>
    public static bool TryParse(string text, out IReadOnlyList<ChaosFault> faults, out string? error)
    {
        var parsed = new List<ChaosFault>();
        faults = parsed;
        error = null;
        foreach (string part in text.Split(','))
        {
            string name = part.Trim();
            int index = Array.FindIndex(All, f => f.Name.Equals(name, StringComparison.OrdinalIgnoreCase));
            if (index < 0)
            {
                error = name.Length == 0
                    ? $"--faults: empty fault name in '{text}'; valid kinds: {ValidNames}"
                    : $"--faults: unknown fault '{name}'; valid kinds: {ValidNames}";
                return false;
            }

            if (!parsed.Contains(All[index].Fault))
            {
                parsed.Add(All[index].Fault);
            }
        }

        return true;
    }
}
