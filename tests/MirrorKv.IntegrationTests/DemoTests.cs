using System.Diagnostics;
using System.Text.RegularExpressions;

namespace MirrorKv.IntegrationTests;

/// <summary>The README's main job, run as a user runs it: a broken demo turns CI red.</summary>
[Collection(nameof(ProcessTests))]
public partial class DemoTests
{
    [Fact]
    public async Task Demo_NodeThatCannotStart_IsNamedWithItsOwnError_NotAStackTrace()
    {
        // A bad setting in the environment, which the demo's nodes inherit: each refuses to start.
        (int exitCode, string stdout, string stderr) = await CliProcess.RunWithEnvironmentAsync(
            new Dictionary<string, string> { ["MIRRORKV_Node__SpinMicroseconds"] = "abc" }, "demo", "--keys", "100");

        Assert.Equal(1, exitCode);
        Assert.Matches(@"error: the primary node \(mirrorkv serve --listen 127\.0\.0\.1:\d+\) exited with exit code 2 before it was ready; its last lines:", stderr);
        Assert.Contains("'abc' at 'Node:SpinMicroseconds'", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", stdout + stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at MirrorKv.", stdout + stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Demo_Defaults_KillsPrimaryAndLosesNothing()
    {
        // 10,000 keys of 100 B fill more than one 1 MiB slab at the load already, so the translation has at least two
        // slab deltas however few rewrites a loaded machine makes before the kill (with 5,000, one slab until then).
        (int exitCode, string output) = await RunCliAsync("demo", "--keys", "10000");

        Assert.True(exitCode == 0, output);
        Assert.Matches(Summary("writes lost", 0), output);
        Assert.Matches(Summary("bad reads", 0), output);
        Assert.Contains("kill -9 of the primary", output, StringComparison.Ordinal);
        Assert.Contains("table rewritten from the secondary's translation", output, StringComparison.Ordinal);
        Assert.Contains("the secondary was promoted (epoch 2)", output, StringComparison.Ordinal);
        Assert.Matches(Summary("writes failed", 0), output);
        Assert.Contains("the pair is protected again", output, StringComparison.Ordinal);
        Match deltas = SummaryValue("slab deltas").Match(output);
        Assert.True(deltas.Success && int.Parse(deltas.Groups["n"].Value, System.Globalization.CultureInfo.InvariantCulture) >= 2, output);
        Match acked = SummaryValue("operations").Match(output);
        Assert.True(acked.Success, output);
    }

    [Fact]
    public async Task Demo_Json_LastLineIsTheSummary()
    {
        (int exitCode, string output) = await RunCliAsync("demo", "--keys", "10000", "--json");
        Assert.True(exitCode == 0, output);
        string last = output.TrimEnd().Split('\n')[^1];
        using var summary = System.Text.Json.JsonDocument.Parse(last);
        System.Text.Json.JsonElement root = summary.RootElement;
        Assert.Equal(0, root.GetProperty("writes_lost").GetInt32());
        Assert.Equal(0, root.GetProperty("bad_reads").GetInt32());
        Assert.True(root.GetProperty("acknowledged_writes").GetInt64() > 0);
        Assert.True(root.GetProperty("read_stall_ms").GetDouble() >= 0);
        Assert.True(root.GetProperty("slab_deltas").GetInt32() >= 2);
        Assert.Equal(2UL, root.GetProperty("epoch").GetUInt64());
    }

    [Fact]
    public async Task StoreDemo_Defaults_ReportsNoBadReads()
    {
        (int exitCode, string output) = await RunCliAsync("store-demo", "--keys", "20000");
        Assert.True(exitCode == 0, output);
        Assert.Contains("0 bad reads", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Demo_LoadLargerThanTheStore_SaysWhatToChange_WithoutAStackTrace()
    {
        (int exitCode, string output) = await RunCliAsync("demo", "--keys", "30000", "--value-size", "10000");

        Assert.Equal(2, exitCode);
        Assert.Contains("the store is full (OutOfMemory): 30,000 keys of 10,000 B do not fit", output, StringComparison.Ordinal);
        Assert.Contains("--value-size", output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Demo_BadArgument_ExitsWithUsageError()
    {
        (int exitCode, string output) = await RunCliAsync("demo", "--keys", "0");
        Assert.NotEqual(0, exitCode);
        Assert.Contains("--keys must be between", output, StringComparison.Ordinal);
    }

    internal static Task<(int ExitCode, string Output)> RunCliAsync(params string[] args) => RunCliAsync(TimeSpan.FromSeconds(90), args);

    internal static Task<(int ExitCode, string Output)> RunCliAsync(TimeSpan limit, params string[] args) => RunDotnetAsync(NodeProcess.CliPath(), limit, args);

    /// <summary>Runs a built program of this repository with <c>dotnet</c> and returns its exit code and output.</summary>
    internal static Task<(int ExitCode, string Output)> RunDotnetAsync(string assembly, TimeSpan limit, params string[] args) => RunDotnetAsync(assembly, limit, environment: null, args);

    /// <summary>As above, with <paramref name="environment"/> set for the program (a null value removes the variable).</summary>
    internal static async Task<(int ExitCode, string Output)> RunDotnetAsync(string assembly, TimeSpan limit, IReadOnlyDictionary<string, string?>? environment, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach ((string name, string? value) in environment ?? new Dictionary<string, string?>())
        {
            start.Environment[name] = value;
        }

        start.ArgumentList.Add(assembly);
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using Process process = Process.Start(start)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(limit);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        return (process.ExitCode, await stdout + await stderr);
    }

    private static Regex Summary(string name, int value) => new($@"^\s+{name}\s+{value}\s", RegexOptions.Multiline);

    private static Regex SummaryValue(string name) => new($@"^\s+{name}\s+(?<n>[0-9,]+)\s", RegexOptions.Multiline);
}
