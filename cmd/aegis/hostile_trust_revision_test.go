package main

// trustRevisionCases are hostile-corpus cases of issue 13 ("the change under
// review cannot choose its own base, policy, rules or verdict").
func trustRevisionCases() []hostileCase {
	return nil
}
