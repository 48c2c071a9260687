using System.Diagnostics;

namespace MirrorKv.IntegrationTests;

/// <summary>Waiting for an event the test expects, with a message naming what did not happen.</summary>
internal static class Waits
{
    public static Task UntilAsync(Func<bool> condition, string what, double seconds = 15) =>
        UntilAsync(() => Task.FromResult(condition()), what, seconds);

    public static async Task UntilAsync(Func<Task<bool>> condition, string what, double seconds = 15)
    {
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            if (clock.Elapsed.TotalSeconds > seconds)
            {
                Assert.Fail($"waited {seconds} s for {what}");
            }

            await Task.Delay(10);
        }
    }
}
