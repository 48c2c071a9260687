using System.Diagnostics;
using System.Globalization;
using System.Net;

namespace MirrorKv.IntegrationTests;

/// <summary>redis-cli (Debian's redis-tools) run as a process against a RESP port: its output, as a script would see it.</summary>
internal static class RedisCli
{
    /// <summary>The redis-cli on PATH; the test is skipped, saying why, when there is none.</summary>
    public static string Require()
    {
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator))
        {
            string candidate = Path.Combine(dir, "redis-cli");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        Assert.Skip("redis-cli is not installed (apt-get install redis-tools); .ci/run installs it");
        return null!;
    }

    /// <summary>
    /// Runs redis-cli against <paramref name="endPoint"/> with <paramref name="arguments"/>; returns its standard
    /// output, trimmed. A connection the node closed is tried again, twice: a primary whose lease ran out while it
    /// served the command (a loaded host stalled it past 500 ms) withholds the reply and closes, as documented
    /// (docs/resp.md), and a redis client reconnects and retries.
    /// </summary>
    public static async Task<string> RunAsync(IPEndPoint endPoint, params string[] arguments)
    {
        for (int attempt = 1; ; attempt++)
        {
            (int exitCode, string text, string errors) = await RunOnceAsync(endPoint, arguments);
            if (exitCode != 0 && attempt < 3 && $"{text} {errors}".Contains("Server closed the connection", StringComparison.Ordinal))
            {
                await Task.Delay(200);
                continue;
            }

            Assert.True(exitCode == 0, $"redis-cli {string.Join(' ', arguments)} exited with {exitCode}: {text} {errors}");
            return text;
        }
    }

    private static async Task<(int ExitCode, string Text, string Errors)> RunOnceAsync(IPEndPoint endPoint, string[] arguments)
    {
        var start = new ProcessStartInfo(Require())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in new[] { "-h", endPoint.Address.ToString(), "-p", endPoint.Port.ToString(CultureInfo.InvariantCulture) }.Concat(arguments))
        {
            start.ArgumentList.Add(argument);
        }

        using Process process = Process.Start(start)!;
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> errors = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, (await output).TrimEnd('\n', '\r', ' '), await errors);
    }
}
