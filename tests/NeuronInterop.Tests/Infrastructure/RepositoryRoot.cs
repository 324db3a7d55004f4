namespace NeuronInterop.Tests.Infrastructure;

/// <summary>Finds the checkout the tests run from, for the tests that read its files.</summary>
public static class RepositoryRoot
{
    /// <summary>
    /// The folder holding NeuronInterop.sln and README.md above where the run started, the current
    /// folder or the test assembly's folder; null when there is none (the tests were copied away
    /// from the checkout and run elsewhere).
    /// </summary>
    public static string? Find()
    {
        // The test host moves the current directory to the test assembly; PWD keeps where the run started.
        var starts = new[] { Environment.GetEnvironmentVariable("PWD"), Environment.CurrentDirectory, AppContext.BaseDirectory };
        foreach (var start in starts.OfType<string>().Where(Directory.Exists))
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "NeuronInterop.sln")) && File.Exists(Path.Combine(dir.FullName, "README.md")))
                    return dir.FullName;
            }
        }
        return null;
    }
}
