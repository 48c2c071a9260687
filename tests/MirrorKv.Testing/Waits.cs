using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace MirrorKv.Testing;

/// <summary>
/// The one wait of the test projects: for a condition or an event the test expects, with a deadline and a
/// message naming what did not happen.
/// </summary>
/// <remarks>
/// A test that checks that something does not happen waits for a later, positive event that proves enough
/// has passed (a later operation's completion, a status change, a frame that came after), never for a bare
/// sleep: on a loaded machine a sleep can pass before the code under test ran at all, and the test then
/// proves nothing.
/// </remarks>
public static class Waits
{
    /// <summary>
    /// Generous, because a failing wait costs only its own time, and a loaded CI machine can stall a test's
    /// threads for seconds.
    /// </summary>
    public const double DefaultSeconds = 15;

    // Short enough not to add latency to a test, long enough not to take a core from the code under test.
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(5);

    /// <summary>
    /// Polls <paramref name="condition"/> until it holds; fails naming <paramref name="what"/> (by default the
    /// condition's own source text) and <paramref name="context"/> (such as recent log lines) after <paramref name="seconds"/>.
    /// </summary>
    public static Task UntilAsync(Func<bool> condition, [CallerArgumentExpression(nameof(condition))] string what = "", double seconds = DefaultSeconds, Func<string>? context = null) =>
        UntilAsync(() => Task.FromResult(condition()), what, seconds, context);

    /// <summary>As <see cref="UntilAsync(Func{bool}, string, double, Func{string}?)"/>, for a condition that must itself ask something (a node's status).</summary>
    public static async Task UntilAsync(Func<Task<bool>> condition, [CallerArgumentExpression(nameof(condition))] string what = "", double seconds = DefaultSeconds, Func<string>? context = null)
    {
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            if (clock.Elapsed.TotalSeconds > seconds)
            {
                Assert.Fail(Message(what, seconds, context));
            }

            await Task.Delay(Poll);
        }
    }

    /// <summary>Awaits the event <paramref name="task"/> stands for; fails naming <paramref name="what"/> when it has not happened after <paramref name="seconds"/>.</summary>
    public static async Task ForAsync(Task task, [CallerArgumentExpression(nameof(task))] string what = "", double seconds = DefaultSeconds, Func<string>? context = null)
    {
        await Task.WhenAny(task, Task.Delay(TimeSpan.FromSeconds(seconds)));
        if (!task.IsCompleted)
        {
            Assert.Fail(Message(what, seconds, context));
        }

        await task;
    }

    /// <summary>As <see cref="ForAsync(Task, string, double, Func{string}?)"/>, returning the event's result.</summary>
    public static async Task<T> ForAsync<T>(Task<T> task, [CallerArgumentExpression(nameof(task))] string what = "", double seconds = DefaultSeconds, Func<string>? context = null)
    {
        await ForAsync((Task)task, what, seconds, context);
        return await task;
    }

    private static string Message(string what, double seconds, Func<string>? context) =>
        $"waited {seconds} s for {what}{(context is null ? "" : $"\n{context()}")}";
}
