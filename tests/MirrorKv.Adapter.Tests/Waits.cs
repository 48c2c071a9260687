namespace MirrorKv.Adapter.Tests;

/// <summary>Waiting for an event the test expects, with a message naming what did not happen.</summary>
internal static class Waits
{
    public static async Task UntilAsync(Func<bool> condition, string what, double seconds = 10, Func<string>? context = null)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"waited {seconds} s for {what}{(context is null ? "" : $"\n{context()}")}");
            }

            await Task.Delay(5);
        }
    }
}
